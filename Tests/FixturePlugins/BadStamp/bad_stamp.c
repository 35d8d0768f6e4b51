// Made that way on purpose: a library that exports the mixmae entry symbols
// but whose stamp function writes no mixmae stamp (no magic word), as a
// foreign library with a clashing symbol name would. The host must refuse it
// without calling register.
#include <stdlib.h>
#include <string.h>
#include "bad_stamp.h"

void mixmae_plugin_abi(void *stamp) { memset(stamp, 0x5A, 48); }

int mixmae_plugin_register(void *registrar) {
    (void)registrar;
    abort();
}
