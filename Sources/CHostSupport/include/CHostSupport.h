#ifndef MIXMAE_CHOSTSUPPORT_H
#define MIXMAE_CHOSTSUPPORT_H
#include "mixmae_image_codecs.h"
/// Returns the path of the loaded object that contains `address`, or NULL.
const char *mixmae_object_path_of(const void *address);

/// Installs SIGINT/SIGTERM handlers that record the signal (see ShutdownRequest.swift).
/// Returns 0, or -1 with errno set.
int mixmae_install_shutdown_handlers(void);
/// Restores the handlers that were in place before the install.
void mixmae_uninstall_shutdown_handlers(void);
/// The signal that requested a shutdown, or 0 when none has.
int mixmae_shutdown_signal(void);
/// Forgets a recorded shutdown request.
void mixmae_reset_shutdown_request(void);
#endif
