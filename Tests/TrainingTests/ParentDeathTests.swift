import Foundation
import MixmaeTasks
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// How many times the forwarded signal arrived (its handler is a C function pointer, so
/// the count lives at file level).
private let forwardedArrivals = Atomic<Int>(0)

/// The parent-death signal turns into one SIGTERM however its repeats arrive. The kernel
/// repeats it once per thread of the dying parent, microseconds apart, and hands each
/// repeat to whichever thread of the child does not block it; two threads can then run
/// the handler at once. Forwarding twice meant a second SIGTERM, which ends a training at
/// once (RUNNING in the registry, no checkpoint) instead of at a step boundary (KILLED).
@Suite struct ParentDeathTests {
    /// Eight busy threads each receive the signal at the same moment, 300 times over: every
    /// time, exactly one forwarded signal arrives. Real-time signals stand in for SIGUSR2
    /// and SIGTERM because they queue: two forwards are two arrivals, never merged into one.
    @Test func repeatsReachingManyThreadsAtOnceForwardOneSignal() throws {
        let repeated = __libc_current_sigrtmin() + 4
        let forwarded = __libc_current_sigrtmin() + 5
        var counting = sigaction()
        counting.__sigaction_handler.sa_handler = { _ in forwardedArrivals.add(1, ordering: .relaxed) }
        sigemptyset(&counting.sa_mask)
        var previousRepeated = sigaction()
        var previousForwarded = sigaction()
        sigaction(repeated, nil, &previousRepeated)
        #expect(sigaction(forwarded, &counting, &previousForwarded) == 0)
        defer {
            sigaction(repeated, &previousRepeated, nil)
            sigaction(forwarded, &previousForwarded, nil)
        }

        let threads = BusyThreads(count: 8, taking: [repeated, forwarded])
        defer { threads.stop() }
        var trialsWithoutOneForward: [Int: Int] = [:]
        for trial in 0..<300 {
            forwardedArrivals.store(0, ordering: .relaxed)
            #expect(ParentDeath.forwardFirstArrival(of: repeated, as: forwarded))
            threads.signalAll(repeated)
            let deadline = Date().addingTimeInterval(2)
            while forwardedArrivals.load(ordering: .relaxed) == 0 && Date() < deadline { usleep(100) }
            usleep(1_000)  // time for a second forward, if there is one
            let arrivals = forwardedArrivals.load(ordering: .relaxed)
            if arrivals != 1 { trialsWithoutOneForward[trial] = arrivals }
        }
        #expect(
            trialsWithoutOneForward.isEmpty,
            "forwarded signals per trial, where not 1: \(trialsWithoutOneForward.sorted { $0.key < $1.key })")
    }
}

/// Threads that spin until stopped, so that each can take a signal at any moment.
private final class BusyThreads: Sendable {
    private let identifiers = Mutex<[pthread_t]>([])
    private let stopped = Atomic<Bool>(false)

    /// Starts `count` threads that unblock `signals` (a thread inherits the mask of the
    /// thread that starts it, and the test runner's threads block most signals).
    init(count: Int, taking signals: [Int32]) {
        for _ in 0..<count {
            let thread = Thread { [self] in
                var wanted = sigset_t()
                sigemptyset(&wanted)
                for signal in signals { sigaddset(&wanted, signal) }
                pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
                identifiers.withLock { $0.append(pthread_self()) }
                while !stopped.load(ordering: .relaxed) {}
            }
            thread.start()
        }
        while identifiers.withLock({ $0.count }) < count { usleep(100) }
    }

    /// Sends `signal` to every thread, one right after the other.
    func signalAll(_ signal: Int32) {
        for thread in identifiers.withLock({ $0 }) { pthread_kill(thread, signal) }
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
}
