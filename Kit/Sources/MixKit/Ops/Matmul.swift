import CBLAS

/// `C = op(A) op(B) (+ C when accumulate)` for row-major matrices, one sgemm.
@inline(__always)
func sgemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool = false
) {
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), 1, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
        accumulate ? 1 : 0, c, Int32(n))
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
    runBatched(batch, work: m * n * k) { i in
        sgemm(
            a.data + i * strideA, b.data + i * strideB, out.data + i * m * n, m: m, n: n, k: k,
            transposeA: transposeA, transposeB: transposeB)
    }
    return out
}

/// Runs `batch` GEMMs of `work` multiply-adds each: big ones one after another
/// on multi-threaded OpenBLAS, small ones spread over threads.
func runBatched(_ batch: Int, work: Int, _ body: (Int) -> Void) {
    if batch == 1 || work >= 1 << 21 || Parallel.threadCount == 1 {
        for i in 0..<batch { body(i) }
        return
    }
    Parallel.withSingleThreadedBLAS {
        Parallel.forRanges(batch, work: Int.max) { lo, hi in
            for i in lo..<hi { body(i) }
        }
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
    let out = matmulKernel(a, b, transposeA: transposeA, transposeB: transposeB)
    return out.recording("matmul", [a, b]) { g in
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

/// d loss / d B when one matrix B multiplied every item of a batched A.
private func sharedMatrixGradient(_ a: Tensor, _ g: Tensor, transposeA: Bool, transposeB: Bool, shape: [Int]) -> Tensor
{
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let batch = a.count / (ar * ac)
    let (gm, gn) = (g.shape[g.rank - 2], g.shape[g.rank - 1])
    let out = Tensor(uninitializedShape: shape)
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
