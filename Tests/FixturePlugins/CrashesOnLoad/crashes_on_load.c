// A shared library whose ELF initialiser (run by dlopen, before any plugin
// symbol is looked up) writes through a null pointer: loading it in the host
// would kill the host with SIGSEGV. The plugin scanner must refuse it.
#include "crashes_on_load.h"

int crashes_on_load_marker(void) { return 1; }

__attribute__((constructor)) static void crash_when_loaded(void) {
    volatile int *nowhere = (volatile int *)0;
    *nowhere = 1;
}
