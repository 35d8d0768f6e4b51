#ifndef MIXKIT_THREAD_POOL_H
#define MIXKIT_THREAD_POOL_H
// MixKit's compute threads: a fixed pool that runs the parts of one parallel
// region at a time, the calling thread included.
//
// Why not GCD's DispatchQueue.concurrentPerform: a training step runs a few
// hundred parallel regions of 20 us to 5 ms each. GCD's workers go to sleep
// between them, and waking one costs a context switch on each side (perf on a
// pico64 finetuning step: 11% of the CPU time in the kernel's scheduler), and
// the caller often ran both halves itself before the woken worker arrived.
// These workers spin for a short while after each region (as OpenMP's do),
// so the next region starts on every core within a microsecond, and sleep on
// a futex when no work comes.
//
// Regions do not nest: a region started from inside a part, or while another
// thread's region runs, runs all its parts on the calling thread (same result,
// no deadlock). Parts are claimed in order from a shared counter, so each runs
// exactly once, on whichever thread takes it first. A forked child starts with
// an empty pool (fork from inside a part is not supported).
#include <stddef.h>

// One part of a region: `part` is in 0 ..< parts.
typedef void (*mk_pool_part_fn)(void *context, long part);

// Runs fn(context, 0) ... fn(context, parts - 1) on the pool and the calling
// thread, and returns when all have finished. `threads` is how many threads
// may work on it at once (the caller included; the pool grows to threads - 1
// workers, at most 255, on first use and never shrinks). `parts` must be
// below 2^31.
void mk_pool_run(long parts, int threads, mk_pool_part_fn fn, void *context);

// How long an idle worker spins before it sleeps, in microseconds (default
// 1000; MIXMAE_POOL_SPIN_US sets it, 0 sleeps at once).
long mk_pool_spin_microseconds(void);

// How many times the pool stopped spinning because other threads wanted the cores: more runnable threads in
// /proc/loadavg than the pool's threads and the free cores account for, four checks in a row 5 ms apart, or its
// own threads preempted (a worker twice within 20 ms that waited for a core 1 ms of that time, or a thread while
// it waited). Spinning stays off for 50 ms after each sign, and while they last.
long mk_pool_back_offs(void);

// 1 while spinning is off after such a sign, else 0.
int mk_pool_backing_off(void);

// How long the calling thread has waited on the kernel's run queue (runnable while other threads had its core),
// in microseconds since it started, from /proc/thread-self/schedstat; -1 where the kernel does not keep it. A
// worker preempted twice within 20 ms counts as contended only when this grew by a millisecond in that time.
long mk_pool_run_queue_wait(void);

// Runnable threads on the whole machine, the caller included (the kernel's count in /proc/loadavg), or -1
// when it cannot be read: what the pool checks for other threads that want the cores.
long mk_pool_runnable_threads(void);

// Time accounting for profiles, per calling thread, off until that thread turns it on (on != 0). While on,
// the pool adds up, for the regions the thread starts, their wall time (from the call of mk_pool_run to its
// return) and the time of each of their parts on whichever thread runs it (a region run serially on its caller,
// as when another thread's region holds the pool, counts its wall time as both, plus the parts other threads
// ran for the regions its parts started). mk_pool_timed reads the calling thread's two totals in nanoseconds;
// a caller that reads them before and after its work gets how busy its parts kept the threads: its time outside
// the regions, plus the parts' time. Two clock reads per part while on; a region started while off adds nothing.
//
//     mk_pool_set_timing(1);
//     long long r0, p0, r1, p1;
//     mk_pool_timed(&r0, &p0);
//     work();   // parallel regions and serial code
//     mk_pool_timed(&r1, &p1);   // busy thread time: wall - (r1 - r0) + (p1 - p0)
void mk_pool_set_timing(int on);
void mk_pool_timed(long long *region_ns, long long *part_ns);

// Worker threads started so far.
int mk_pool_workers(void);

#endif
