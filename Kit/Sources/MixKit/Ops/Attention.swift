import CKernels

/// Multi-head scaled dot-product self-attention on the packed output of a
/// `qkv` projection, in one op.
///
/// `qkv` is `[G, N, 3C]` with each token laid out as timm's `qkv` linear
/// writes it, `[3][heads][C / heads]` (queries, keys, values). For every
/// sequence (or window) `g` and head `h`:
/// `out[g, :, h] = softmax(scale * Q Kᵀ + bias[h], masked by groups) V`,
/// written as `[G, N, C]` with the heads side by side (timm's
/// `transpose(1, 2).reshape(B, N, C)`). `bias` and `groups` work as in
/// ``attentionSoftmax(_:bias:groups:period:)``.
///
/// The queries, keys and values are read in place with strided GEMMs and the
/// heads written in place, so neither pass copies or permutes a tensor; each
/// (sequence, head) pair runs on one thread from its scores to its output
/// while they are in cache. The probabilities `[G, heads, N, N]` are kept for
/// backward.
///
/// ```swift
/// let y = multiHeadAttention(qkv: qkv(x), heads: 4, scale: 0.125)   // [B, N, 3C] -> [B, N, C]
/// ```
public func multiHeadAttention(
    qkv: Tensor, heads: Int, scale: Float, bias: Tensor? = nil, groups: [UInt8]? = nil, period: Int = 1
) -> Tensor {
    defineOp("attention", qkv, bias) { op in
        op.require(
            qkv.rank == 3 && heads > 0 && qkv.shape[2] % (3 * heads) == 0,
            "qkv must be [G, N, 3 * C] with C divisible by \(heads) heads, got \(qkv.shape)")
        let (g, n, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let c = c3 / 3
        let d = c / heads
        if let bias { op.requireShape(bias, [heads, n, n], "bias (\(heads) heads of \(n) tokens)") }
        if let groups {
            op.require(
                period > 0 && groups.count == period * n,
                "\(groups.count) group ids for period \(period) and \(n) tokens")
        }
        let out = Tensor(uninitializedShape: [g, n, c])
        let probs = Tensor(uninitializedShape: [g, heads, n, n])
        let items = g * heads
        let (px, po, pp) = (UnsafePointer(qkv.data), out.data, probs.data)
        let pb: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        let groupStore = groups ?? []
        Parallel.configure()
        Profiler.countGEMM(m: n, n: n, k: d, batch: 2 * items)
        groupStore.withUnsafeBufferPointer { gp in
            let gptr = groups == nil ? nil : gp.baseAddress
            Parallel.forRanges(items, work: items * n * n * d) { lo, hi in
                for i in lo..<hi {
                    let (w, h) = (i / heads, i % heads)
                    let q = px + w * n * c3 + h * d
                    let p = pp + i * n * n
                    blasGEMM(
                        q, lda: c3, q + c, ldb: c3, p, ldc: n, m: n, n: n, k: d, transposeA: false, transposeB: true,
                        alpha: scale)
                    mk_attention_softmax_block(p, pb.map { $0 + h * n * n }, gptr.map { $0 + (w % period) * n }, n)
                    blasGEMM(
                        p, lda: n, q + 2 * c, ldb: c3, po + w * n * c + h * d, ldc: c, m: n, n: d, k: n,
                        transposeA: false, transposeB: false)
                }
            }
        }
        return OpResult(out) { gout in
            let dqkv = Tensor(uninitializedShape: qkv.shape)
            let wantBias = bias?.needsGrad ?? false
            let chunks = items * n * n * d >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, items) : 1
            let scratch = Tensor(uninitializedShape: [chunks, n, n])
            let partial = wantBias ? Tensor.zeros([chunks, heads, n, n]) : nil
            // The closure holds `probs` and `qkv` (not only their pointers) so their buffers stay alive.
            let (px, pp) = (UnsafePointer(qkv.data), probs.data)
            let (pg, pdx, ps) = (UnsafePointer(gout.data), dqkv.data, scratch.data)
            let ppart = partial?.data
            Profiler.countGEMM(m: n, n: n, k: d, batch: 4 * items)
            Parallel.configure()
            Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
                for chunk in c0..<c1 {
                    let dp = ps + chunk * n * n
                    for i in (items * chunk / chunks)..<(items * (chunk + 1) / chunks) {
                        let (w, h) = (i / heads, i % heads)
                        let q = px + w * n * c3 + h * d
                        let dq = pdx + w * n * c3 + h * d
                        let go = pg + w * n * c + h * d
                        let p = UnsafePointer(pp + i * n * n)
                        // dP = dO Vᵀ; dV = Pᵀ dO.
                        blasGEMM(
                            go, lda: c, q + 2 * c, ldb: c3, dp, ldc: n, m: n, n: n, k: d, transposeA: false,
                            transposeB: true)
                        blasGEMM(
                            p, lda: n, go, ldb: c, dq + 2 * c, ldc: c3, m: n, n: d, k: n, transposeA: true,
                            transposeB: false)
                        // dS (in place over dP), and its sum into the bias gradient.
                        mk_attention_softmax_block_backward(p, dp, ppart.map { $0 + (chunk * heads + h) * n * n }, n)
                        // dQ = scale dS K; dK = scale dSᵀ Q.
                        blasGEMM(
                            dp, lda: n, q + c, ldb: c3, dq, ldc: c3, m: n, n: d, k: n, transposeA: false,
                            transposeB: false, alpha: scale)
                        blasGEMM(
                            dp, lda: n, q, ldb: c3, dq + c, ldc: c3, m: n, n: d, k: n, transposeA: true,
                            transposeB: false, alpha: scale)
                    }
                }
            }
            return [dqkv, partial.map { reduceSumKernel($0, axes: [0]).reshapedView([heads, n, n]) }]
        }
    }
}
