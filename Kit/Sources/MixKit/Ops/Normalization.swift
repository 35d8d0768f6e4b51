import CKernels

/// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`
/// with the biased variance, as PyTorch's `LayerNorm`.
///
/// ```swift
/// let y = layerNorm(x, weight: w, bias: b, eps: 1e-5)
/// ```
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    defineOp("layer_norm", x, weight, bias) { op in
        layerNormResult(op, x, samples: nil, weight: weight, bias: bias, eps: eps)
    }
}

/// ``layerNorm(_:weight:bias:eps:)`` of the samples `samples` of `x` (its slices along the first axis, each named
/// at most once), in that order: the values of `layerNorm(x.indexSelect(axis: 0, indices: samples), ...)` without
/// the copy of the selected samples, which backward would keep alive next to `x`. The gradient reaches `x` in the
/// selected samples' rows (added into the gradient `x` already has when nothing else holds it); the others get 0.
///
/// ```swift
/// let normalized = layerNorm(x, samples: kept, weight: w, bias: b)   // [kept.count, L, C] from x [B, L, C]
/// ```
public func layerNorm(_ x: Tensor, samples: [Int], weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    defineOp("layer_norm", x, weight, bias) { op in
        op.require(x.rank >= 2, "selecting samples needs a batch axis and a normalised axis, got \(x.shape)")
        op.require(
            samples.allSatisfy { $0 >= 0 && $0 < x.shape[0] } && DistinctIndices(samples, size: x.shape[0]) != nil,
            "samples \(samples) must be distinct and in 0..<\(x.shape[0])")
        return layerNormResult(op, x, samples: samples, weight: weight, bias: bias, eps: eps)
    }
}

/// The value and backward of a layer norm of `x`'s `samples` (all of them when nil).
private func layerNormResult(
    _ op: OpContext, _ x: Tensor, samples: [Int]?, weight: Tensor?, bias: Tensor?, eps: Float
) -> OpResult {
    let cols = x.shape.last ?? 1
    if let weight { op.requireShape(weight, [cols], "weight") }
    if let bias { op.requireShape(bias, [cols], "bias") }
    var shape = x.shape
    if let samples { shape[0] = samples.count }
    let rows = shape.reduce(1, *) / Swift.max(cols, 1)
    // Rows per sample of x (a selected sample's rows are contiguous in x and in y); read only with samples.
    let runs = SampleRuns(samples, rowsPerSample: x.shape.dropFirst().dropLast().reduce(1, *))
    let y = Tensor(uninitializedShape: shape)
    let mean = Tensor(uninitializedShape: [rows])
    let rstd = Tensor(uninitializedShape: [rows])
    let (px, py, pm, pr) = (UnsafePointer(x.data), y.data, mean.data, rstd.data)
    // Without an affine part, normalise with weight 1 and bias 0.
    let w = weight ?? Tensor.ones([cols])
    let b = bias ?? Tensor.zeros([cols])
    Parallel.forRanges(rows, work: rows * cols * 3) { lo, hi in
        runs.forEach(lo, hi) { source, target, r0, r1 in
            mk_layer_norm(
                px + source * cols, w.data, b.data, py + target * cols, pm + target, pr + target, r0, r1, cols, eps)
        }
    }
    return OpResult(y) { g in
        // The gradient x has from its other users so far (a residual connection's), added into as it is computed.
        let earlier = x.needsGrad ? PendingGradients.takeForAccumulation(x) : nil
        let gx: Tensor? = x.needsGrad ? earlier ?? Tensor(uninitializedShape: x.shape) : nil
        if let gx, earlier == nil, let samples {
            // Samples the norm did not read get no gradient from it.
            let (sampleSize, selected) = (x.count / x.shape[0], Set(samples))
            for s in 0..<x.shape[0] where !selected.contains(s) {
                (gx.data + s * sampleSize).update(repeating: 0, count: sampleSize)
            }
        }
        let wantW = weight?.needsGrad ?? false
        let wantB = bias?.needsGrad ?? false
        let chunks = rows * cols >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, rows) : 1
        // Per-chunk partial sums for the weight and bias gradients, added at the end.
        let partW = wantW ? PartialSums(parts: chunks, columns: cols) : nil
        let partB = wantB ? PartialSums(parts: chunks, columns: cols) : nil
        let pg = UnsafePointer(g.data)
        let pgx = gx?.data
        // x, mean and rstd are read through the tensors, which the closure keeps alive (a pointer taken in forward
        // would not: the pool hands their buffers on once forward drops them).
        Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
            for c in c0..<c1 {
                runs.forEach(rows * c / chunks, rows * (c + 1) / chunks) { source, target, r0, r1 in
                    mk_layer_norm_backward(
                        x.data + source * cols, w.data, mean.data + target, rstd.data + target, pg + target * cols,
                        pgx.map { $0 + source * cols }, earlier == nil ? 0 : 1, partW?.row(c), partB?.row(c), r0, r1,
                        cols)
                }
            }
        }
        return [gx, partW?.total(), partB?.total()]
    }
}

/// Rows of selected samples, in runs a row kernel can take: output rows `[lo, hi)` split at sample boundaries, each
/// run given as the row offsets of its sample in the source and in the output and its rows within the sample.
struct SampleRuns {
    let samples: [Int]?
    let rowsPerSample: Int

    init(_ samples: [Int]?, rowsPerSample: Int) {
        self.samples = samples
        self.rowsPerSample = rowsPerSample
    }

    /// Calls `body(sourceOffset, targetOffset, r0, r1)` for rows `r0..<r1` after those offsets, covering output rows
    /// `lo..<hi`; without samples, one run at offset 0.
    func forEach(_ lo: Int, _ hi: Int, _ body: (Int, Int, Int, Int) -> Void) {
        guard let samples, rowsPerSample > 0 else {
            if lo < hi { body(0, 0, lo, hi) }
            return
        }
        var row = lo
        while row < hi {
            let k = row / rowsPerSample
            let end = Swift.min(hi, (k + 1) * rowsPerSample)
            let start = k * rowsPerSample
            body(samples[k] * rowsPerSample, start, row - start, end - start)
            row = end
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
