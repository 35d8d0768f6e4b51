// A shared library that is not a mixmae plugin: it exports no entry symbols.
#include "not_a_plugin.h"

int not_a_plugin_answer(void) { return 42; }
