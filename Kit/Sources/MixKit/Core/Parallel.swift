import CBLAS
import Dispatch
import Foundation

/// How mixmae shares the machine's cores between OpenBLAS and its own loops.
///
/// The rule:
/// 1. Large GEMMs run in OpenBLAS on all ``threadCount`` threads, called from
///    one thread at a time (the training thread).
/// 2. Element-wise, normalisation and reduction kernels split their rows into
///    ``threadCount`` chunks with `DispatchQueue.concurrentPerform`, only when
///    the work is large enough to pay for the hand-off (``minimumParallelWork``
///    elements); they never call BLAS from inside a chunk.
/// 3. Batches of small GEMMs (window attention) are split over the threads,
///    each chunk calling single-threaded GEMMs, with OpenBLAS switched to one
///    thread for the duration (see ``withSingleThreadedBLAS(_:)``), so the
///    two kinds of parallelism never run at once and never oversubscribe.
/// Data loading runs on its own threads and only decodes images: it competes
/// for the cores, which is what makes it keep up.
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

    private static let configureBLAS: Void = {
        openblas_set_num_threads(Int32(threadCount))
    }()

    /// Makes sure OpenBLAS uses ``threadCount`` threads; cheap after the first call.
    public static func configure() { _ = configureBLAS }

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

    /// Runs `body` with OpenBLAS limited to one thread, then restores it.
    public static func withSingleThreadedBLAS<R>(_ body: () -> R) -> R {
        configure()
        if threadCount == 1 { return body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(threadCount)) }
        return body()
    }
}
