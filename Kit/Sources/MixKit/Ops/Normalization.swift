import CKernels

/// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`
/// with the biased variance, as PyTorch's `LayerNorm`.
///
/// ```swift
/// let y = layerNorm(x, weight: w, bias: b, eps: 1e-5)
/// ```
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    defineOp("layer_norm", x, weight, bias) { op in
        let cols = x.shape.last ?? 1
        if let weight { op.requireShape(weight, [cols], "weight") }
        if let bias { op.requireShape(bias, [cols], "bias") }
        let rows = x.count / Swift.max(cols, 1)
        let y = Tensor(uninitializedShape: x.shape)
        let mean = Tensor(uninitializedShape: [rows])
        let rstd = Tensor(uninitializedShape: [rows])
        let px = x.data
        let py = y.data
        let pm = mean.data
        let pr = rstd.data
        // Without an affine part, normalise with weight 1 and bias 0.
        let w = weight ?? Tensor.ones([cols])
        let b = bias ?? Tensor.zeros([cols])
        Parallel.forRanges(rows, work: x.count * 3) { lo, hi in
            mk_layer_norm(px, w.data, b.data, py, pm, pr, lo, hi, cols, eps)
        }
        return OpResult(y) { g in
            // The gradient x has from its other users so far (a residual connection's), added into as it is computed.
            let earlier = x.needsGrad ? PendingGradients.takeForAccumulation(x) : nil
            let gx: Tensor? = x.needsGrad ? earlier ?? Tensor(uninitializedShape: x.shape) : nil
            let wantW = weight?.needsGrad ?? false
            let wantB = bias?.needsGrad ?? false
            let chunks = x.count >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, rows) : 1
            // Per-chunk partial sums for the weight and bias gradients, added at the end.
            let partW = wantW ? PartialSums(parts: chunks, columns: cols) : nil
            let partB = wantB ? PartialSums(parts: chunks, columns: cols) : nil
            let pg = g.data
            let pgx = gx?.data
            Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
                for c in c0..<c1 {
                    let r0 = rows * c / chunks
                    let r1 = rows * (c + 1) / chunks
                    mk_layer_norm_backward(
                        x.data, w.data, mean.data, rstd.data, pg, pgx, earlier == nil ? 0 : 1,
                        partW?.row(c), partB?.row(c), r0, r1, cols)
                }
            }
            return [gx, partW?.total(), partB?.total()]
        }
    }
}

/// Group normalisation (PyTorch's `F.group_norm`): the channels of `x`
/// `[B, C, ...]` are split into `groups` groups of `C / groups` channels;
/// each (sample, group) is normalised over its channels and positions with
/// the biased variance, then scaled and shifted per channel by `weight` and
/// `bias` `[C]`.
///
/// ```swift
/// let y = groupNorm(x, groups: 32, weight: gamma, bias: beta)   // x [B, 256, H, W]
/// ```
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    defineOp("group_norm", x, weight, bias) { op in
        op.require(x.rank >= 2, "input must be [B, C, ...], got \(x.shape)")
        let (b, c) = (x.shape[0], x.shape[1])
        op.require(
            groups >= 1 && c % groups == 0, "\(c) channels of \(x.shape) are not divisible into \(groups) groups")
        if let weight { op.requireShape(weight, [c], "weight") }
        if let bias { op.requireShape(bias, [c], "bias") }
        let positions = x.shape[2...].reduce(1, *)
        let perGroup = c / groups
        let rows = b * groups
        let y = Tensor(uninitializedShape: x.shape)
        let mean = Tensor(uninitializedShape: [rows])
        let rstd = Tensor(uninitializedShape: [rows])
        let pw: UnsafePointer<Float>? = weight.map { UnsafePointer($0.data) }
        let pb: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        Parallel.forRanges(rows, work: x.count * 3) { lo, hi in
            mk_group_norm(x.data, pw, pb, y.data, mean.data, rstd.data, lo, hi, groups, perGroup, positions, eps)
        }
        return OpResult(y) { g in
            let gx: Tensor? = x.needsGrad ? Tensor(uninitializedShape: x.shape) : nil
            let wantW = weight?.needsGrad ?? false
            let wantB = bias?.needsGrad ?? false
            let chunks = x.count >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, rows) : 1
            // Per-chunk partial sums of the weight and bias gradients, added at the end.
            let partW = wantW ? PartialSums(parts: chunks, columns: c) : nil
            let partB = wantB ? PartialSums(parts: chunks, columns: c) : nil
            Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
                for chunk in c0..<c1 {
                    mk_group_norm_backward(
                        x.data, pw, mean.data, rstd.data, g.data, gx?.data, partW?.row(chunk), partB?.row(chunk),
                        rows * chunk / chunks, rows * (chunk + 1) / chunks, groups, perGroup, positions)
                }
            }
            return [gx, partW?.total(), partB?.total()]
        }
    }
}
