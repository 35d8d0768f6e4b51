#ifndef NOT_A_PLUGIN_H
#define NOT_A_PLUGIN_H
/// A function so that the library is not empty.
int not_a_plugin_answer(void);
#endif
