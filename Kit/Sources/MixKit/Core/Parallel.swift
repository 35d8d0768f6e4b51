import CBLAS
import Dispatch
import Foundation

/// How mixmae shares the machine's cores between OpenBLAS and its own loops.
///
/// The rule: one kind of parallelism at a time, never nested, never more
/// threads than ``threadCount``.
/// 1. A large GEMM runs either on OpenBLAS's threads or cut by MixKit into one
///    block per thread, each a single-threaded sgemm, whichever was measured
///    faster for its shape (see `gemm` in Matmul.swift: MixKit's cut wins on
///    the tall-skinny linears of the first stages and on long-reduction weight
///    gradients, OpenBLAS on the rest).
/// 2. A batch of small GEMMs (window attention) is split over the threads by
///    batch item; each item is one single-threaded sgemm.
/// 3. Element-wise, normalisation and reduction kernels split their rows into
///    ``threadCount`` chunks with `DispatchQueue.concurrentPerform`, only when
///    the work is large enough to pay for the hand-off (``minimumParallelWork``
///    elements); they never call BLAS from inside a chunk.
/// OpenBLAS is set to one thread for everything but case 1's OpenBLAS GEMMs;
/// the setting is only changed when it differs (``setBLASThreads(_:)``), and
/// switching costs less than the measurement noise of one GEMM. Data loading
/// runs on its own threads and only decodes images: it competes for the
/// cores, which is what makes it keep up.
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
        /// By shape, as measured (the default).
        case automatic
        /// Always MixKit's cut into single-threaded sgemms (for comparison).
        case mixkit
        /// Always OpenBLAS on ``threadCount`` threads (for comparison).
        case openblas
    }

    /// Who threads large GEMMs; `MIXMAE_GEMM_THREADING=mixkit|openblas` forces one
    /// side. Set it only between steps, from the training thread.
    public static var gemmThreading: GEMMThreading =
        ProcessInfo.processInfo.environment["MIXMAE_GEMM_THREADING"].flatMap(GEMMThreading.init(rawValue:))
        ?? .automatic

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
