#ifndef BAD_STAMP_H
#define BAD_STAMP_H
/// Writes 48 bytes that are not a mixmae ABI stamp.
void mixmae_plugin_abi(void *stamp);
/// Aborts: the host must never call it.
int mixmae_plugin_register(void *registrar);
#endif
