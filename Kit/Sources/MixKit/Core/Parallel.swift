import CBLAS
import Dispatch
import Foundation

/// How mixmae shares the machine's cores between OpenBLAS and its own loops.
///
/// The rule: OpenBLAS always runs on one thread; MixKit does all the
/// threading itself, on GCD's pool (`DispatchQueue.concurrentPerform`), with
/// ``threadCount`` chunks, and never nests one parallel region in another.
/// 1. A large GEMM is cut along the larger of M and N into one block per
///    thread, each a single-threaded sgemm (see `gemm` in Matmul.swift for the
///    measurements: faster than OpenBLAS's threading on the tall-skinny
///    linears of the first stages).
/// 2. A batch of small GEMMs (window attention) is split over the threads by
///    batch item; each item is one single-threaded sgemm.
/// 3. Element-wise, normalisation and reduction kernels split their rows into
///    ``threadCount`` chunks, only when the work is large enough to pay for the
///    hand-off (``minimumParallelWork`` elements).
/// OpenBLAS's own threads would busy-wait after each call and take a core from
/// the next parallel kernel (measured: +25% CPU time per small128 step), so
/// the two kinds of parallelism are never mixed. Data loading runs on its own
/// threads and only decodes images: it competes for the cores, which is what
/// makes it keep up.
///
/// `MIXMAE_THREADS` sets ``threadCount`` (default: the number of online cores).
public enum Parallel {
    /// The number of threads compute uses.
    public static let threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["MIXMAE_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

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
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = count * c / chunks
                let hi = count * (c + 1) / chunks
                if hi > lo { body(lo, hi) }
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
