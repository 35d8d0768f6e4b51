import CBLAS
import Dispatch

/// One single-threaded `cblas_sgemm` on row-major matrices with explicit leading
/// dimensions: `C = alpha op(A) op(B) + beta C`.
@inline(__always)
func blasGEMM(
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, _ c: UnsafeMutablePointer<Float>,
    ldc: Int, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0
) {
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Below this many multiply-adds a GEMM runs on the calling thread (about 10 µs of work).
let minimumParallelGEMM = 1 << 19

/// `C = alpha op(A) op(B) + beta C` with explicit leading dimensions, on
/// ``Parallel/threadCount`` threads (rule 1 of ``Parallel``): MixKit cuts the
/// larger of M and N in one block per thread (a multiple of 16 rows or
/// columns), each a single-threaded sgemm.
///
/// Measured on this project's GEMMs (min of 12 interleaved runs, 2 threads,
/// GFLOP/s), the cut beats OpenBLAS's own threading on the tall-skinny linears
/// of the first stages (16384x192x64: 179 vs 152; 6272x96x288: 143 vs 116) and
/// on long-reduction weight gradients (288x96x6272: 152 vs 93), and loses on
/// some mid-size ones (1024x256x1024 with Aᵀ: 181 vs 200). But a GEMM on
/// OpenBLAS's threads leaves its worker busy-waiting for a while afterwards,
/// competing with MixKit's threads for the element-wise kernels that follow:
/// with OpenBLAS threading the mid-size shapes, small128 took 25% more CPU
/// time per step. So OpenBLAS stays single-threaded (its workers sleep) and
/// MixKit threads every GEMM.
func gemm(
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, _ c: UnsafeMutablePointer<Float>,
    ldc: Int, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0
) {
    let threads = Parallel.threadCount
    let small = threads == 1 || m * n * k < minimumParallelGEMM || (m < 32 && n < 32)
    if small || Parallel.gemmThreading == .openblas {
        Parallel.setBLASThreads(small ? 1 : threads)
        blasGEMM(
            a, lda: lda, b, ldb: ldb, c, ldc: ldc, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
            alpha: alpha, beta: beta)
        return
    }
    Parallel.configure()
    // One block per thread, a multiple of 16 rows or columns (the width of the sgemm micro-kernels).
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let units = (extent + 15) / 16
    let parts = min(threads, units)
    DispatchQueue.concurrentPerform(iterations: parts) { p in
        let lo = min(extent, units * p / parts * 16)
        let hi = min(extent, units * (p + 1) / parts * 16)
        guard hi > lo else { return }
        if splitRows {
            blasGEMM(
                transposeA ? a + lo : a + lo * lda, lda: lda, b, ldb: ldb, c + lo * ldc, ldc: ldc, m: hi - lo, n: n,
                k: k, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta)
        } else {
            blasGEMM(
                a, lda: lda, transposeB ? b + lo * ldb : b + lo, ldb: ldb, c + lo, ldc: ldc, m: m, n: hi - lo, k: k,
                transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta)
        }
    }
}

/// `C = op(A) op(B) (+ C when accumulate)` for contiguous row-major matrices, threaded as ``gemm``.
@inline(__always)
func sgemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool = false
) {
    gemm(
        a, lda: transposeA ? m : k, b, ldb: transposeB ? k : n, c, ldc: n, m: m, n: n, k: k, transposeA: transposeA,
        transposeB: transposeB, beta: accumulate ? 1 : 0)
}

/// Batched `op(A) op(B)` where A is [batch, ...] and B is [batch, ...] or one
/// matrix shared by the batch; small problems run batch items on separate
/// threads with single-threaded GEMMs (see ``Parallel``).
func matmulKernel(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
    precondition(
        a.rank >= 2 && b.rank >= 2, "matmul: operands need at least 2 dimensions, got \(a.shape) and \(b.shape)")
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let m = transposeA ? ac : ar
    let k = transposeA ? ar : ac
    let kb = transposeB ? bc : br
    let n = transposeB ? br : bc
    precondition(
        k == kb,
        "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") and \(b.shape)\(transposeB ? "ᵀ" : "") (\(k) vs \(kb))"
    )
    let batchA = Array(a.shape.dropLast(2))
    let batchB = Array(b.shape.dropLast(2))
    let sharedA = batchA.allSatisfy { $0 == 1 }
    let sharedB = batchB.allSatisfy { $0 == 1 }
    Parallel.configure()
    Profiler.countGEMM(m: m, n: n, k: k, batch: max(a.count / (ar * ac), b.count / (br * bc)))
    if sharedB && !transposeA {
        // One tall GEMM over every row of the batch.
        let out = Tensor(uninitializedShape: batchA + [m, n])
        sgemm(
            a.data, b.data, out.data, m: batchA.reduce(1, *) * m, n: n, k: k, transposeA: false,
            transposeB: transposeB)
        return out
    }
    precondition(
        sharedA || sharedB || batchA == batchB, "matmul: batch dimensions differ: \(a.shape) and \(b.shape)")
    let batchShape = sharedA ? batchB : batchA
    let batch = batchShape.reduce(1, *)
    let strideA = sharedA ? 0 : ar * ac
    let strideB = sharedB ? 0 : br * bc
    let out = Tensor(uninitializedShape: batchShape + [m, n])
    let (pa, pb, po) = (a.data, b.data, out.data)
    let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
    runBatched(batch, work: m * n * k) { i, single in
        if single {
            blasGEMM(
                pa + i * strideA, lda: lda, pb + i * strideB, ldb: ldb, po + i * m * n, ldc: n, m: m, n: n, k: k,
                transposeA: transposeA, transposeB: transposeB)
        } else {
            gemm(
                pa + i * strideA, lda: lda, pb + i * strideB, ldb: ldb, po + i * m * n, ldc: n, m: m, n: n, k: k,
                transposeA: transposeA, transposeB: transposeB)
        }
    }
    return out
}

/// Runs `batch` GEMMs of `work` multiply-adds each. Small ones are spread over
/// the threads, `body(i, true)` computing item `i` on the calling thread with a
/// single-threaded sgemm; big ones run one after another, `body(i, false)`
/// splitting each over the threads (``gemm``).
func runBatched(_ batch: Int, work: Int, _ body: (Int, Bool) -> Void) {
    Parallel.configure()
    if batch == 1 || work >= 1 << 22 || Parallel.threadCount == 1 {
        for i in 0..<batch { body(i, batch == 1 && work < minimumParallelGEMM) }
        return
    }
    Parallel.forRanges(batch, work: Int.max) { lo, hi in
        for i in lo..<hi { body(i, true) }
    }
}

/// Matrix product over the last two axes, batched over the leading ones.
///
/// `b` may be a single matrix shared by every batch item. Transposes are
/// passed to BLAS, never materialised.
///
/// ```swift
/// let scores = matmul(q, k, transposeB: true)   // [B, H, N, N]
/// let y = matmul(x, w, transposeB: true)        // x [B, N, in], w [out, in]
/// ```
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    defineOp("matmul", a, b) { op in
        op.require(a.rank >= 2 && b.rank >= 2, "operands need at least 2 dimensions")
        let k = a.shape[a.rank - (transposeA ? 2 : 1)]
        let kb = b.shape[b.rank - (transposeB ? 1 : 2)]
        op.require(
            k == kb, "inner dimensions differ: \(k) vs \(kb) (transposeA \(transposeA), transposeB \(transposeB))")
        let batchA = a.shape.dropLast(2)
        let batchB = b.shape.dropLast(2)
        op.require(
            batchA.allSatisfy { $0 == 1 } || batchB.allSatisfy { $0 == 1 } || batchA == batchB,
            "batch dimensions \(Array(batchA)) and \(Array(batchB)) differ")
        let out = matmulKernel(a, b, transposeA: transposeA, transposeB: transposeB)
        return OpResult(out) { g in
            var ga: Tensor? = nil
            var gb: Tensor? = nil
            if a.needsGrad {
                ga =
                    transposeA
                    ? matmulKernel(b, g, transposeA: transposeB, transposeB: true)
                    : matmulKernel(g, b, transposeA: false, transposeB: !transposeB)
                if ga!.shape != a.shape { ga = ga!.sumToShape(a.shape) }
            }
            if b.needsGrad {
                if b.rank == 2 && a.rank > 2 {
                    gb = sharedMatrixGradient(a, g, transposeA: transposeA, transposeB: transposeB, shape: b.shape)
                } else {
                    gb =
                        transposeB
                        ? matmulKernel(g, a, transposeA: true, transposeB: transposeA)
                        : matmulKernel(a, g, transposeA: !transposeA, transposeB: false)
                }
                if gb!.shape != b.shape { gb = gb!.sumToShape(b.shape) }
            }
            return [ga, gb]
        }
    }
}

/// d loss / d B when one matrix B multiplied every item of a batched A.
private func sharedMatrixGradient(_ a: Tensor, _ g: Tensor, transposeA: Bool, transposeB: Bool, shape: [Int]) -> Tensor
{
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let batch = a.count / (ar * ac)
    let (gm, gn) = (g.shape[g.rank - 2], g.shape[g.rank - 1])
    let out = Tensor(uninitializedShape: shape)
    Profiler.countGEMM(m: shape[0], n: shape[1], k: transposeA ? ac : ar, batch: batch)
    if !transposeA {
        // Flatten the batch into rows: A [P, k], G [P, n].
        let p = batch * ar
        if transposeB {
            sgemm(g.data, a.data, out.data, m: gn, n: ac, k: p, transposeA: true, transposeB: false)
        } else {
            sgemm(a.data, g.data, out.data, m: ac, n: gn, k: p, transposeA: true, transposeB: false)
        }
        return out
    }
    for i in 0..<batch {
        let ai = a.data + i * ar * ac
        let gi = g.data + i * gm * gn
        if transposeB {
            // op(B) = Bᵀ, so dB = Σ G_iᵀ op(A_i) = Σ G_iᵀ A_iᵀ.
            sgemm(gi, ai, out.data, m: gn, n: ar, k: gm, transposeA: true, transposeB: true, accumulate: i > 0)
        } else {
            // dB = Σ op(A_i)ᵀ G_i = Σ A_i G_i.
            sgemm(ai, gi, out.data, m: ar, n: gn, k: ac, transposeA: false, transposeB: false, accumulate: i > 0)
        }
    }
    return out
}
