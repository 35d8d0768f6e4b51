#include "CHostSupport.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

// The kernel sends the parent-death signal each time the child is re-parented: once per
// thread of the dying parent, then once more for the final reaper. A repeated SIGTERM
// would end a training at once instead of at a step boundary, so the kernel sends
// SIGUSR2, and its first arrival (only) becomes one SIGTERM; later ones are ignored.
static void on_parent_death(int signo) {
    (void)signo;
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGUSR2, &ignore, NULL);
    kill(getpid(), SIGTERM);
}

int mixmae_die_with_parent(int expected_parent) {
#if defined(__linux__)
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_parent_death;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGUSR2, &action, NULL) != 0) return -1;
    if (prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0) != 0) return -1;
    // The parent may have died before prctl: then this process was already re-parented.
    return getppid() == (pid_t)expected_parent ? 0 : 1;
#else
    (void)expected_parent;
    return -1;
#endif
}
