#include "CHostSupport.h"
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

// The kernel sends the parent-death signal each time the child is re-parented: once per
// thread of the dying parent, then once more for the final reaper. A repeated SIGTERM
// would end a training at once instead of at a step boundary, so the kernel sends
// SIGUSR2, and its first arrival (only) becomes one SIGTERM.
//
// The repeats come microseconds apart, and while one thread runs the handler (with the
// signal blocked in that thread only) the kernel hands the next repeat to another thread,
// which runs the handler too. Ignoring the signal from inside the handler is too late for
// that second thread; the atomic exchange is what lets exactly one arrival forward.
static atomic_int forwarded = 0;
static volatile sig_atomic_t forward_to = SIGTERM;

static void forward_first_arrival(int signo) {
    if (atomic_exchange(&forwarded, 1) != 0) return;
    struct sigaction ignore;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(signo, &ignore, NULL);
    kill(getpid(), forward_to);
}

int mixmae_forward_first_signal(int from, int to) {
    forward_to = to;
    atomic_store(&forwarded, 0);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = forward_first_arrival;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(from, &action, NULL) == 0 ? 0 : -1;
}

int mixmae_die_with_parent(int expected_parent) {
#if defined(__linux__)
    if (mixmae_forward_first_signal(SIGUSR2, SIGTERM) != 0) return -1;
    if (prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0) != 0) return -1;
    // The parent may have died before prctl: then this process was already re-parented.
    return getppid() == (pid_t)expected_parent ? 0 : 1;
#else
    (void)expected_parent;
    return -1;
#endif
}
