// MixKit's compute thread pool (see include/thread_pool.h).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // RUSAGE_THREAD
#endif
#include "thread_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define MK_POOL_RELAX() __builtin_ia32_pause()
#else
#define MK_POOL_RELAX() ((void)0)
#endif

// The most workers the pool starts (a region may ask for more threads; the rest run on the ones there are).
#define MK_POOL_MAX_WORKERS 255

// `state`: bits 63..32 the current region's number, bit 31 set once the region is closed (its parts are all
// done: a worker that arrives late must not enter), bits 30..16 how many workers may enter (the region's
// threads - 1), bits 15..0 the workers inside it. A worker enters with a compare-and-swap that checks the
// number, the closed bit and the limit, and the caller returns only when no worker is inside, so the region's
// fields (and the caller's context) are never read after the caller has moved on.
#define MK_POOL_CLOSED ((uint64_t)1 << 31)
#define MK_POOL_LIMIT_SHIFT 16
#define MK_POOL_LIMIT(state) (((state) >> MK_POOL_LIMIT_SHIFT) & 0x7fff)
#define MK_POOL_INSIDE ((uint64_t)0xffff)

static struct {
    pthread_mutex_t submit;  // one region at a time
    pthread_mutex_t grow;    // starting workers
    _Atomic uint64_t state;
    _Atomic uint32_t region;  // the futex word: the number of the newest region
    _Atomic int sleepers;
    _Atomic int workers;
    uint32_t last_region;  // guarded by `submit`
    // The open region; written by its caller before `state` is published.
    mk_pool_part_fn fn;
    void *context;
    long parts;
    _Atomic long next;
    _Atomic uint32_t done;  // parts finished; a futex word when the caller sleeps on it
    _Atomic int caller_sleeps;
    int timed;                        // whether the open region's parts are timed (mk_pool_set_timing)
    _Atomic long long timed_part_ns;  // the open region's parts' time so far, when timed
} pool = {.submit = PTHREAD_MUTEX_INITIALIZER, .grow = PTHREAD_MUTEX_INITIALIZER};

// 1 on the pool's workers and on a caller while its region runs: a region started there runs serially.
static _Thread_local int inside_region;

static _Atomic long spin_microseconds = -1;  // -1 until the setting is read (reading it twice does no harm)

long mk_pool_spin_microseconds(void) {
    long known = atomic_load_explicit(&spin_microseconds, memory_order_relaxed);
    if (known >= 0) return known;
    const char *value = getenv("MIXMAE_POOL_SPIN_US");
    long v = 1000;
    if (value != NULL && *value != 0) {
        char *end = NULL;
        v = strtol(value, &end, 10);
        if (*end != 0 || v < 0 || v > 10000000) {
            fprintf(stderr,
                    "mixmae: MIXMAE_POOL_SPIN_US=%s is not a spin time: give microseconds from 0 (idle compute "
                    "threads sleep at once) to 10000000, or unset it for the default (1000).\n",
                    value);
            exit(2);
        }
    }
    atomic_store_explicit(&spin_microseconds, v, memory_order_relaxed);
    return v;
}

int mk_pool_workers(void) { return atomic_load(&pool.workers); }

static long long now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long now_microseconds(void) { return (long)(now_nanoseconds() / 1000); }

// Time accounting for profiles (mk_pool_set_timing), per calling thread: whether its regions are timed, and
// the totals of its regions' wall time and of their parts' time, in nanoseconds.
static _Thread_local int thread_timing;
static _Thread_local long long thread_region_ns, thread_part_ns;
// 1 while a timed region runs serially on this thread: a region its parts start is inside its time already.
static _Thread_local int timing_serial_region;
// The part time other threads spent in pool regions started inside that serial region (when another thread's
// region held the pool as it began, and had let it go when a part started one): its parts' time, not its wall.
static _Thread_local long long timing_serial_others_ns;

void mk_pool_set_timing(int on) { thread_timing = on != 0; }

void mk_pool_timed(long long *region_ns, long long *part_ns) {
    *region_ns = thread_region_ns;
    *part_ns = thread_part_ns;
}

static void run_parts(void) {
    for (;;) {
        long part = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed);
        if (part >= pool.parts) return;
        if (pool.timed) {
            long long start = now_nanoseconds();
            pool.fn(pool.context, part);
            atomic_fetch_add_explicit(&pool.timed_part_ns, now_nanoseconds() - start, memory_order_relaxed);
        } else {
            pool.fn(pool.context, part);
        }
        atomic_fetch_add(&pool.done, 1);
        if (atomic_load(&pool.caller_sleeps)) syscall(SYS_futex, &pool.done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
}

// Spinning only pays while the pool has the cores to itself. Measured with one other busy process on 2 cores,
// pico64 finetuning: 1 ms spins lost 35-40% to GCD, the preemption back-off alone 27-36%, sleeping at once
// (MIXMAE_POOL_SPIN_US=0) nothing; with the load check below as well, images/s went from 262-272 to 399-468
// against the build without it (small128: 14.1-15.2 to 16.5-17.5). A thread preempted while it waits tells
// that another runnable thread wants the core: a gap this long between two looks at the clock (256 pauses,
// normally ~10 us) counts as preempted...
#define MK_POOL_PREEMPTED_US 200
// ...and then idle workers sleep at once for this long before they try spinning again.
#define MK_POOL_BACK_OFF_US 50000

static _Atomic long spin_again_at;  // microseconds; spinning is off until then
static _Atomic long back_offs;

long mk_pool_back_offs(void) { return atomic_load(&back_offs); }

// Whether spinning is off at `now` (microseconds).
static int backing_off_at(long now) { return now < atomic_load_explicit(&spin_again_at, memory_order_relaxed); }

int mk_pool_backing_off(void) { return backing_off_at(now_microseconds()); }

// Stops spinning until MK_POOL_BACK_OFF_US from now (counted once when spinning was on).
static void back_off(long now) {
    long until = atomic_exchange_explicit(&spin_again_at, now + MK_POOL_BACK_OFF_US, memory_order_relaxed);
    if (until <= now) atomic_fetch_add_explicit(&back_offs, 1, memory_order_relaxed);
}

// Preemptions are a late sign: by then a part has waited a scheduler slice. The kernel's count of runnable
// threads says it earlier. /proc/loadavg's fourth field ("2/250": runnable/all) counts every runnable thread
// on the machine, this process's compute threads among them; the others, if there are more than the cores the
// pool does not use, would have to preempt a spinning thread to run. Measured here: with nothing else running,
// 99% of samples counted only the reading thread, 1% one more (a kernel thread); with one busy process, every
// sample counted it. So a check every few milliseconds backs off after four in a row that see other threads.
// A pool with more threads than the process has CPUs (MIXMAE_THREADS above them) never spins for long: its own
// threads already want more cores than there are (libgomp throttles its spinning in that case too).
#define MK_POOL_LOAD_CHECK_US 5000
#define MK_POOL_LOAD_STRIKES 4

static _Atomic long load_checked_at;  // microseconds
static _Atomic int load_strikes;      // consecutive checks that saw other runnable threads
static int usable_cpus;               // the CPUs this process may run on, set before the first worker starts

// The small text file at `path` read into `text` (`size` bytes at most, with its terminating 0), and where its
// field after the first `skip` spaces starts; NULL when the file cannot be read or has fewer fields.
static const char *proc_field(const char *path, char *text, size_t size, int skip) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    ssize_t length = read(fd, text, size - 1);
    close(fd);
    if (length <= 0) return NULL;
    text[length] = 0;
    const char *field = text;
    for (int skipped = 0; skipped < skip; skipped++) {
        field = strchr(field, ' ');
        if (field == NULL) return NULL;
        field++;
    }
    return field;
}

long mk_pool_runnable_threads(void) {
    char text[128];
    const char *field = proc_field("/proc/loadavg", text, sizeof text, 3);  // three load averages, "runnable/all"
    if (field == NULL) return -1;
    char *end = NULL;
    long runnable = strtol(field, &end, 10);
    return end != field && *end == '/' ? runnable : -1;
}

// At most once per MK_POOL_LOAD_CHECK_US (one thread checks): backs off while other runnable threads would
// need the cores the pool's threads spin on.
static void check_load(long now) {
    long last = atomic_load_explicit(&load_checked_at, memory_order_relaxed);
    if (now - last < MK_POOL_LOAD_CHECK_US) return;
    if (!atomic_compare_exchange_strong_explicit(&load_checked_at, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed))
        return;
    long runnable = mk_pool_runnable_threads();
    if (runnable < 0 || usable_cpus <= 0) return;
    long pool_threads = atomic_load(&pool.workers) + 1;  // the workers and one caller
    int backing_off = backing_off_at(now);
    // While the pool spins, all its threads may be runnable, and a thread just woken from its futex is
    // runnable before it counts itself awake: only what exceeds all of them counts, and only when it lasts
    // (kernel threads come in bursts of a few milliseconds). While it backs off, its sleeping threads are
    // asleep for long and can be left out, so that the back-off lasts as long as the other threads do.
    long ours = backing_off ? pool_threads - atomic_load(&pool.sleepers) - atomic_load(&pool.caller_sleeps)
                            : pool_threads;
    long others = runnable - ours;
    if (others + pool_threads <= usable_cpus) {
        atomic_store_explicit(&load_strikes, 0, memory_order_relaxed);
    } else if (atomic_fetch_add_explicit(&load_strikes, 1, memory_order_relaxed) + 1 >=
               (backing_off ? 1 : MK_POOL_LOAD_STRIKES)) {
        back_off(now);
    }
}

// The spin time for a wait that starts now (0 while backing off); sets `start` when it is not 0.
static long spin_budget(long *start) {
    long spin = mk_pool_spin_microseconds();
    if (spin == 0) return 0;
    *start = now_microseconds();
    check_load(*start);
    return backing_off_at(*start) ? 0 : spin;
}

// Waits until the region number differs from `seen`: spins for the spin time (unless the cores are contended,
// see above), then sleeps on the futex.
static uint32_t wait_for_region(uint32_t seen) {
    long start = 0;
    long spin = spin_budget(&start), last = start;
    for (unsigned i = 1;; i++) {
        uint32_t region = atomic_load_explicit(&pool.region, memory_order_acquire);
        if (region != seen) return region;
        if (spin > 0) {
            if ((i & 255) != 0) {
                MK_POOL_RELAX();
                continue;
            }
            long now = now_microseconds();
            if (now - last > MK_POOL_PREEMPTED_US) {
                back_off(now);
            } else if (now - start < spin) {
                last = now;
                MK_POOL_RELAX();
                continue;
            }
        }
        // Announce the sleep before the futex reads the word: a caller that publishes a region after this
        // increment sees a sleeper and wakes it; one that published before makes the futex return at once.
        atomic_fetch_add(&pool.sleepers, 1);
        syscall(SYS_futex, &pool.region, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
        atomic_fetch_sub(&pool.sleepers, 1);
        spin = spin_budget(&start);
        last = start;
    }
}

// Involuntary context switches of a worker (the system preempted it, in a part or in its spin). A quiet
// machine preempts a worker now and then (kernel threads: 10-20 times a second measured here); a contended
// one at every scheduler slice (a few milliseconds). Two within this window count as contention when the worker
// also waited on its run queue for MK_POOL_PREEMPTED_WAIT_US of it (where the kernel keeps that time): another
// busy thread on its core takes a third or more of every window, while the brief preemptions of a quiet machine
// take microseconds. On this project's virtual machines a helper process that wakes every 50 ms for 30-40 us
// preempted the workers often enough to turn spinning off 6-19 times per tiny224 finetuning run (counted with
// the wait check off), and sleeping instead of spinning costs 5-7% of a step (MIXMAE_POOL_SPIN_US=0: 1476 and
// 1490 against 1411 and 1390 ms). With the check, five alternating pairs of pico64 finetuning runs (30 steps each)
// backed off 1-2 against 4-12 times and took 29.3, 26.9, 43.4, 43.9, 31.1 against 32.1, 28.8, 44.5, 43.6, 32.0 ms a
// step; small128 finetuning the same within the runs' spread (400.6 against 401.3 ms, means of five pairs).
#define MK_POOL_PREEMPTION_WINDOW_US 20000
#define MK_POOL_PREEMPTED_WAIT_US 1000

struct preemption_check {
    long window_start;     // microseconds
    long window_switches;  // the count when the window started
    long window_wait;      // mk_pool_run_queue_wait when the window started
    long checked_at;
};

long mk_pool_run_queue_wait(void) {
    // The second of /proc/thread-self/schedstat's three fields: nanoseconds spent runnable, waiting for a core.
    char text[96];
    const char *field = proc_field("/proc/thread-self/schedstat", text, sizeof text, 1);
    if (field == NULL) return -1;
    char *end = NULL;
    long long waited = strtoll(field, &end, 10);
    return end != field && waited >= 0 ? (long)(waited / 1000) : -1;
}

// Starts a window at `now` (one read of the run-queue wait, 6-7 us here, at most once per window).
static void start_preemption_window(struct preemption_check *check, long now, long switches) {
    check->window_start = now;
    check->window_switches = switches;
    check->window_wait = mk_pool_run_queue_wait();
}

// At most once a millisecond: backs off when the system preempted this worker twice within the window and kept
// it waiting (see MK_POOL_PREEMPTED_WAIT_US).
static void check_preemption(struct preemption_check *check) {
    if (mk_pool_spin_microseconds() == 0) return;
    long now = now_microseconds();
    if (now - check->checked_at < 1000) return;
    check->checked_at = now;
    struct rusage usage;
    if (getrusage(RUSAGE_THREAD, &usage) != 0) return;
    if (now - check->window_start > MK_POOL_PREEMPTION_WINDOW_US) {
        start_preemption_window(check, now, usage.ru_nivcsw);
    } else if (usage.ru_nivcsw - check->window_switches >= 2) {
        long waited = mk_pool_run_queue_wait();
        if (waited < 0 || check->window_wait < 0 || waited - check->window_wait >= MK_POOL_PREEMPTED_WAIT_US)
            back_off(now);
        start_preemption_window(check, now, usage.ru_nivcsw);
    }
}

static void *worker_main(void *unused) {
    (void)unused;
    inside_region = 1;
    struct preemption_check preemption = {0, 0, 0, 0};
    uint32_t seen = atomic_load(&pool.region);
    for (;;) {
        uint32_t region = wait_for_region(seen);
        seen = region;
        uint64_t state = atomic_load_explicit(&pool.state, memory_order_acquire);
        int entered = 0;
        while ((uint32_t)(state >> 32) == region && (state & MK_POOL_CLOSED) == 0 &&
               (state & MK_POOL_INSIDE) < MK_POOL_LIMIT(state)) {
            if (atomic_compare_exchange_weak_explicit(&pool.state, &state, state + 1, memory_order_acquire,
                                                      memory_order_acquire)) {
                entered = 1;
                break;
            }
        }
        if (!entered) continue;
        run_parts();
        atomic_fetch_sub_explicit(&pool.state, 1, memory_order_release);
        check_preemption(&preemption);
    }
    return NULL;
}

// In a child forked by any thread the workers do not exist: start from an empty pool (the child starts its
// own workers at its first region). Forking from inside a part is not supported: the child would wait for
// parts other threads had taken.
static void reset_in_child(void) {
    pthread_mutex_init(&pool.submit, NULL);
    pthread_mutex_init(&pool.grow, NULL);
    atomic_store(&pool.workers, 0);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.caller_sleeps, 0);
    atomic_store(&pool.state, MK_POOL_CLOSED);
}

static pthread_once_t fork_handler_once = PTHREAD_ONCE_INIT;
static void install_fork_handler(void) { pthread_atfork(NULL, NULL, reset_in_child); }

static pthread_once_t cpu_count_once = PTHREAD_ONCE_INIT;
static void count_usable_cpus(void) {
    cpu_set_t set;
    usable_cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
}

// Starts workers until there are `wanted` (at most MK_POOL_MAX_WORKERS); returns how many there are.
static int grow_to(int wanted) {
    if (wanted > MK_POOL_MAX_WORKERS) wanted = MK_POOL_MAX_WORKERS;
    int have = atomic_load_explicit(&pool.workers, memory_order_acquire);
    if (have >= wanted) return have;
    mk_pool_spin_microseconds();  // read the setting before any worker does
    pthread_once(&fork_handler_once, install_fork_handler);
    pthread_once(&cpu_count_once, count_usable_cpus);
    pthread_mutex_lock(&pool.grow);
    have = atomic_load(&pool.workers);
    while (have < wanted) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t thread;
        int failed = pthread_create(&thread, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (failed) break;
        have++;
        atomic_store_explicit(&pool.workers, have, memory_order_release);
    }
    pthread_mutex_unlock(&pool.grow);
    return have;
}

// A region's parts one after another on the calling thread. Inside a part, or inside a timed region run serially,
// its time already counts; otherwise, when timed, it counts as a region and as parts, as the pool would count it.
static void run_serially(long parts, mk_pool_part_fn fn, void *context) {
    int timed = thread_timing && !inside_region && !timing_serial_region;
    long long start = timed ? now_nanoseconds() : 0;
    timing_serial_region |= timed;
    if (timed) timing_serial_others_ns = 0;
    for (long part = 0; part < parts; part++) fn(context, part);
    if (!timed) return;
    timing_serial_region = 0;
    long long elapsed = now_nanoseconds() - start;
    thread_region_ns += elapsed;
    thread_part_ns += elapsed + timing_serial_others_ns;
}

// How long the caller spins for the other threads' parts before it sleeps until the last one ends.
#define MK_POOL_CALLER_SPIN_US 2000

// Waits until every part is done: spins while the parts still running are likely to end soon, then sleeps on
// the futex until the last one ends (a worker preempted in the middle of its part, on a contended machine),
// leaving the core to whoever runs instead. A caller preempted while it spins also means contention.
static void wait_for_parts(long parts) {
    long start = 0, last = 0;
    for (unsigned i = 1;; i++) {
        uint32_t done = atomic_load_explicit(&pool.done, memory_order_acquire);
        if (done >= (uint32_t)parts) return;
        if ((i & 255) != 0) {
            MK_POOL_RELAX();
            continue;
        }
        long now = now_microseconds();
        if (start == 0) start = now;
        if (last != 0 && now - last > MK_POOL_PREEMPTED_US)
            back_off(now);
        last = now;
        if (now - start < MK_POOL_CALLER_SPIN_US) continue;
        // Announce the sleep before the futex reads the word (as the workers do for `region`).
        atomic_store(&pool.caller_sleeps, 1);
        syscall(SYS_futex, &pool.done, FUTEX_WAIT_PRIVATE, done, NULL, NULL, 0);
        atomic_store(&pool.caller_sleeps, 0);
        start = last = 0;
    }
}

// Spins until no worker is inside the region (they leave right after their last part).
static void wait_for_workers_to_leave(void) {
    for (unsigned i = 1; (atomic_load_explicit(&pool.state, memory_order_acquire) & MK_POOL_INSIDE) != 0; i++) {
        if ((i & 4095) == 0) sched_yield();
        else MK_POOL_RELAX();
    }
}

void mk_pool_run(long parts, int threads, mk_pool_part_fn fn, void *context) {
    if (parts <= 0) return;
    if (parts == 1 || threads <= 1 || inside_region || grow_to(threads - 1) == 0 ||
        pthread_mutex_trylock(&pool.submit) != 0) {
        run_serially(parts, fn, context);
        return;
    }
    int saved_errno = errno;  // the futex calls below may set it; the caller's code must not see that
    // Inside a timed serial region this region's wall time and the caller's parts count already; the other
    // threads' parts are added to it (timing_serial_others_ns).
    pool.timed = thread_timing;
    int inside_serial = pool.timed && timing_serial_region;
    long long region_start = pool.timed ? now_nanoseconds() : 0;
    atomic_store_explicit(&pool.timed_part_ns, 0, memory_order_relaxed);
    pool.fn = fn;
    pool.context = context;
    pool.parts = parts;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t region = ++pool.last_region;
    uint64_t limit = (uint64_t)(threads - 1 < MK_POOL_MAX_WORKERS ? threads - 1 : MK_POOL_MAX_WORKERS);
    atomic_store_explicit(&pool.state, (uint64_t)region << 32 | limit << MK_POOL_LIMIT_SHIFT, memory_order_release);
    atomic_store(&pool.region, region);
    if (atomic_load(&pool.sleepers) > 0) syscall(SYS_futex, &pool.region, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    inside_region = 1;
    long long caller_parts_start = inside_serial ? now_nanoseconds() : 0;
    run_parts();
    long long caller_parts_ns = inside_serial ? now_nanoseconds() - caller_parts_start : 0;
    inside_region = 0;
    wait_for_parts(parts);
    atomic_fetch_or_explicit(&pool.state, MK_POOL_CLOSED, memory_order_acq_rel);
    wait_for_workers_to_leave();
    if (pool.timed) {
        long long parts_ns = atomic_load_explicit(&pool.timed_part_ns, memory_order_relaxed);
        if (inside_serial) {
            if (parts_ns > caller_parts_ns) timing_serial_others_ns += parts_ns - caller_parts_ns;
        } else {
            thread_region_ns += now_nanoseconds() - region_start;
            thread_part_ns += parts_ns;
        }
    }
    pthread_mutex_unlock(&pool.submit);
    errno = saved_errno;
}
