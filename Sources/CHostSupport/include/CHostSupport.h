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
/// Makes the first arrival of signal `from` (in whichever thread, however many arrive at
/// once) send signal `to` to this process, once; later arrivals of `from` are ignored.
/// Calling it again re-arms it. Returns 0, or -1 with errno set.
int mixmae_forward_first_signal(int from, int to);
/// Arranges one SIGTERM to this process when its parent exits (Linux PR_SET_PDEATHSIG,
/// through SIGUSR2 and mixmae_forward_first_signal, so its repeats are ignored). Returns 0, 1 when the parent is no longer
/// `expected_parent` (it died before the request), or -1 when the system cannot do it.
int mixmae_die_with_parent(int expected_parent);
#endif
