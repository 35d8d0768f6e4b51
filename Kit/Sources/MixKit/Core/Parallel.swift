import CBLAS
import CKernels
import Foundation

/// How mixmae shares the machine's cores between OpenBLAS and its own loops.
///
/// The rule: OpenBLAS always runs on one thread; MixKit does all the
/// threading itself, on its own pool of ``threadCount`` - 1 workers plus the
/// calling thread (``forEachPart(_:_:)``), and never nests one parallel region
/// in another (a nested region runs on the calling thread).
/// 1. A large GEMM is cut along the larger of M and N into one block per
///    thread, each a single-threaded sgemm (see `gemm` in Matmul.swift for the
///    measurements: faster than OpenBLAS's threading on the tall-skinny
///    linears of the first stages).
/// 2. A batch of small GEMMs (window attention) is split over the threads by
///    batch item; each item is one single-threaded sgemm.
/// 3. Element-wise, normalisation and reduction kernels split their rows into
///    ``threadCount`` chunks, only when the work is large enough to pay for the
///    hand-off (``minimumParallelWork`` elements).
/// OpenBLAS's threads busy-wait after each call as the pool's do, and two sets
/// of spinning threads take the cores from each other (measured with GCD
/// before the pool: +25% CPU time per small128 step), so the two kinds of
/// parallelism are never mixed. Data loading runs on its own
/// threads and only decodes images: it competes for the cores, which is what
/// makes it keep up.
///
/// The pool's workers spin for a millisecond after each region before they
/// sleep, so the next region starts at once (GCD's `concurrentPerform`, used
/// before, put its workers to sleep between regions: 11% of a pico64 step's
/// CPU time went to the scheduler). `MIXMAE_POOL_SPIN_US` sets the spin time.
/// Spinning stops for 50 ms (``backOffs`` counts it) when other threads want
/// the cores: when the kernel's count of runnable threads (/proc/loadavg)
/// exceeds what the pool's threads and the free cores account for in four
/// checks 5 ms apart, or when the system preempts a worker twice within 20 ms
/// and keeps it waiting for a core for 1 ms of that time (a brief preemption
/// by a process that wakes now and then does not count). It stays off while
/// they run.
///
/// `MIXMAE_THREADS` sets ``threadCount`` (default: the number of online cores).
public enum Parallel {
    /// The number of threads compute uses.
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["MIXMAE_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// How long an idle compute thread spins, waiting for the next parallel
    /// region, before it sleeps (`MIXMAE_POOL_SPIN_US`, default 1000; 0 sleeps
    /// at once, for a machine shared with other work). A value that is not a
    /// number of microseconds from 0 to 10,000,000 ends the process with exit
    /// status 2 and a message saying what to set.
    public static var spinMicroseconds: Int { mk_pool_spin_microseconds() }

    /// How many times the pool stopped spinning because other threads wanted
    /// the cores (other runnable threads in /proc/loadavg, or its own threads
    /// preempted). `mixmae bench train` reports it.
    public static var backOffs: Int { mk_pool_back_offs() }

    /// Whether idle compute threads sleep at once right now because other
    /// threads wanted the cores in the last 50 ms (see ``backOffs``).
    public static var isBackingOff: Bool { mk_pool_backing_off() != 0 }

    /// A one-line description of the compute threads, for `--version` and the benchmarks.
    ///
    /// ```swift
    /// print(Parallel.summary)  // "2 threads (MixKit pool, idle threads spin 1000 us)"
    /// ```
    public static var summary: String {
        "\(threadCount) thread\(threadCount == 1 ? "" : "s") (MixKit pool, idle threads spin \(spinMicroseconds) us)"
    }

    /// Below this many elements of work a kernel runs on the calling thread.
    public static let minimumParallelWork = 1 << 15

    /// Who threads a large GEMM (rule 1).
    public enum GEMMThreading: String, Sendable {
        /// MixKit cuts it into single-threaded sgemms (the default).
        case mixkit
        /// OpenBLAS runs it on ``threadCount`` threads (for comparison only: see the rule).
        case openblas
    }

    /// Who threads large GEMMs; `MIXMAE_GEMM_THREADING=openblas` selects OpenBLAS,
    /// to compare. Set it only between steps, from the training thread.
    public static var gemmThreading: GEMMThreading =
        ProcessInfo.processInfo.environment["MIXMAE_GEMM_THREADING"].flatMap(GEMMThreading.init(rawValue:))
        ?? .mixkit

    private static var blasThreads = 0

    /// Sets OpenBLAS's thread count when it differs from the current one.
    static func setBLASThreads(_ n: Int) {
        if blasThreads != n {
            openblas_set_num_threads(Int32(n))
            blasThreads = n
        }
    }

    /// Makes sure OpenBLAS runs single-threaded (see the rule above).
    public static func configure() { setBLASThreads(1) }

    /// Runs `body(start, end)` over `0..<count` in at most ``threadCount`` contiguous
    /// chunks; `work` is the total number of elements touched, to decide whether
    /// splitting pays.
    ///
    /// ```swift
    /// Parallel.forRanges(rows, work: rows * cols) { lo, hi in kernel(lo, hi) }
    /// ```
    @inline(__always)
    public static func forRanges(_ count: Int, work: Int, _ body: (Int, Int) -> Void) {
        let chunks = min(threadCount, count)
        if chunks <= 1 || work < minimumParallelWork {
            if count > 0 { body(0, count) }
            return
        }
        forEachPart(chunks) { c in
            let lo = count * c / chunks
            let hi = count * (c + 1) / chunks
            if hi > lo { body(lo, hi) }
        }
    }

    /// Runs `body(0)` ... `body(parts - 1)` on the compute pool and the calling
    /// thread (at most ``threadCount`` at once) and returns when all have run.
    /// Each part runs exactly once; parts must not depend on each other's order.
    ///
    /// ```swift
    /// Parallel.forEachPart(2) { p in process(half: p) }
    /// ```
    public static func forEachPart(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 || threadCount == 1 {
            for p in 0..<parts { body(p) }
            return
        }
        precondition(parts < 1 << 31, "Parallel.forEachPart: \(parts) parts; at most 2^31 - 1")
        withoutActuallyEscaping(body) { body in
            var part = body
            withUnsafeMutablePointer(to: &part) { context in
                mk_pool_run(
                    parts, Int32(clamping: threadCount),
                    { context, p in
                        context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(p)
                    }, context)
            }
        }
    }

    /// Runs `body` with OpenBLAS limited to one thread. Under the rule above
    /// OpenBLAS always is: this only makes sure it has been configured.
    public static func withSingleThreadedBLAS<R>(_ body: () -> R) -> R {
        configure()
        return body()
    }
}
