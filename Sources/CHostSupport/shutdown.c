#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "CHostSupport.h"

// Async-signal-safe state: the handler only stores to these and calls write(2).
static volatile sig_atomic_t shutdown_signal = 0;
static struct sigaction previous_int;
static struct sigaction previous_term;
static volatile sig_atomic_t installed = 0;

static void on_shutdown_signal(int signo) {
    shutdown_signal = signo;
    static const char message[] =
        "\nmixmae: stop requested; finishing the current step and writing a checkpoint "
        "(send the signal again to stop at once)\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof(message) - 1);
    (void)ignored;
}

int mixmae_install_shutdown_handlers(void) {
    if (installed) return 0;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_shutdown_signal;
    sigemptyset(&action.sa_mask);
    // SA_RESETHAND: the first signal asks for a clean stop; a second one has the default
    // effect and ends the process at once.
    action.sa_flags = SA_RESETHAND | SA_RESTART;
    if (sigaction(SIGINT, &action, &previous_int) != 0) return -1;
    if (sigaction(SIGTERM, &action, &previous_term) != 0) {
        sigaction(SIGINT, &previous_int, NULL);
        return -1;
    }
    // A process started from a thread that blocks signals (libdispatch workers do, and
    // posix_spawn passes the mask on) would never see them: unblock both here.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &wanted, NULL);
    installed = 1;
    return 0;
}

void mixmae_uninstall_shutdown_handlers(void) {
    if (!installed) return;
    sigaction(SIGINT, &previous_int, NULL);
    sigaction(SIGTERM, &previous_term, NULL);
    installed = 0;
}

int mixmae_shutdown_signal(void) { return shutdown_signal; }

void mixmae_reset_shutdown_request(void) { shutdown_signal = 0; }
