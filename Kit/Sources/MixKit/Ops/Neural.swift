import CKernels

extension Tensor {
    /// Softmax over `axis` (the last by default).
    public func softmax(axis: Int = -1) -> Tensor {
        rowwise("softmax", axis: axis, forward: mk_softmax_rows, backward: mk_softmax_backward_rows)
    }

    /// Log-softmax over `axis` (the last by default).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        rowwise("log_softmax", axis: axis, forward: mk_log_softmax_rows, backward: mk_log_softmax_backward_rows)
    }

    /// A row kernel `forward(x, y, rows, cols)` applied along `axis`, whose
    /// backward `backward(y, gy, gx, rows, cols)` needs only the output.
    private func rowwise(
        _ name: String, axis: Int,
        forward: @escaping @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int) -> Void,
        backward:
            @escaping @convention(c) (
                UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int, Int
            ) -> Void
    ) -> Tensor {
        Profiler.measure(name) {
            let a = normalizeAxis(axis)
            if a != rank - 1 {
                var axes = Array(0..<rank)
                axes.swapAt(a, rank - 1)
                return permuted(axes).rowwise(name, axis: -1, forward: forward, backward: backward).permuted(axes)
            }
            let cols = shape[a]
            let rows = count / Swift.max(cols, 1)
            let y = Tensor(uninitializedShape: shape)
            let px = data
            let py = y.data
            Parallel.forRanges(rows, work: count * 4) { lo, hi in
                forward(px + lo * cols, py + lo * cols, hi - lo, cols)
            }
            let saved = y.detached()
            return y.recording(name, [self]) { g in
                let py = saved.data
                let gx = Tensor(uninitializedShape: self.shape)
                let pg = g.data
                let pgx = gx.data
                Parallel.forRanges(rows, work: self.count * 2) { lo, hi in
                    backward(py + lo * cols, pg + lo * cols, pgx + lo * cols, hi - lo, cols)
                }
                return [gx]
            }
        }
    }

    /// GELU, exact form `x * Φ(x)` with the error function.
    public func gelu() -> Tensor {
        Profiler.measure("gelu") {
            let y = Tensor(uninitializedShape: shape)
            let px = data
            let py = y.data
            Parallel.forRanges(count, work: count * 8) { lo, hi in mk_gelu(px + lo, py + lo, hi - lo) }
            return y.recording("gelu", [self]) { g in
                let px = self.data
                let gx = Tensor(uninitializedShape: self.shape)
                let pg = g.data
                let pgx = gx.data
                Parallel.forRanges(self.count, work: self.count * 8) { lo, hi in
                    mk_gelu_backward(px + lo, pg + lo, pgx + lo, hi - lo)
                }
                return [gx]
            }
        }
    }
}

/// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`
/// with the biased variance, as PyTorch's `LayerNorm`.
///
/// ```swift
/// let y = layerNorm(x, weight: w, bias: b, eps: 1e-5)
/// ```
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    Profiler.measure("layer_norm") {
        let cols = x.shape.last ?? 1
        if let weight {
            precondition(
                weight.shape == [cols], "layerNorm: weight shape \(weight.shape) does not fit input \(x.shape)")
        }
        if let bias {
            precondition(bias.shape == [cols], "layerNorm: bias shape \(bias.shape) does not fit input \(x.shape)")
        }
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
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return y.recording("layer_norm", inputs) { g in
            let gx: Tensor? = x.needsGrad ? Tensor(uninitializedShape: x.shape) : nil
            let wantW = weight?.needsGrad ?? false
            let wantB = bias?.needsGrad ?? false
            let chunks = x.count >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, rows) : 1
            // Per-chunk partial sums for the weight and bias gradients, added at the end.
            let partW = wantW ? Tensor.zeros([chunks, cols]) : nil
            let partB = wantB ? Tensor.zeros([chunks, cols]) : nil
            let pg = g.data
            let pgx = gx?.data
            Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
                for c in c0..<c1 {
                    let r0 = rows * c / chunks
                    let r1 = rows * (c + 1) / chunks
                    mk_layer_norm_backward(
                        x.data, w.data, mean.data, rstd.data, pg, pgx, partW.map { $0.data + c * cols },
                        partB.map { $0.data + c * cols },
                        r0, r1, cols)
                }
            }
            var grads: [Tensor?] = [gx]
            if weight != nil { grads.append(partW.map { reduceSumKernel($0, axes: [0]).reshapedView([cols]) }) }
            if bias != nil { grads.append(partB.map { reduceSumKernel($0, axes: [0]).reshapedView([cols]) }) }
            return grads
        }
    }
}

/// `x @ weightᵀ + bias` over the last axis of `x`, as PyTorch's `F.linear`
/// (weight is `[out, in]`). The bias is added inside the GEMM.
///
/// ```swift
/// let y = linear(x, weight: w, bias: b)   // x [B, N, in] -> [B, N, out]
/// ```
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    Profiler.measure("linear") {
        let inFeatures = x.shape.last ?? 0
        precondition(
            weight.rank == 2 && weight.shape[1] == inFeatures,
            "linear: weight \(weight.shape) does not fit input \(x.shape) (expects [out, \(inFeatures)])")
        let outFeatures = weight.shape[0]
        let rows = x.count / Swift.max(inFeatures, 1)
        let y = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
        Parallel.configure()
        if let bias {
            precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) does not fit weight \(weight.shape)")
            let (pb, py) = (UnsafePointer(bias.data), y.data)
            Parallel.forRanges(rows, work: rows * outFeatures) { lo, hi in
                for r in lo..<hi { (py + r * outFeatures).update(from: pb, count: outFeatures) }
            }
        }
        Profiler.countGEMM(m: rows, n: outFeatures, k: inFeatures)
        sgemm(
            x.data, weight.data, y.data, m: rows, n: outFeatures, k: inFeatures, transposeA: false, transposeB: true,
            accumulate: bias != nil)
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        return y.recording("linear", inputs) { g in
            var gx: Tensor? = nil
            if x.needsGrad {
                gx = Tensor(uninitializedShape: x.shape)
                Profiler.countGEMM(m: rows, n: inFeatures, k: outFeatures)
                sgemm(
                    g.data, weight.data, gx!.data, m: rows, n: inFeatures, k: outFeatures, transposeA: false,
                    transposeB: false)
            }
            var gw: Tensor? = nil
            if weight.needsGrad {
                gw = Tensor(uninitializedShape: weight.shape)
                Profiler.countGEMM(m: outFeatures, n: inFeatures, k: rows)
                sgemm(
                    g.data, x.data, gw!.data, m: outFeatures, n: inFeatures, k: rows, transposeA: true,
                    transposeB: false)
            }
            var grads: [Tensor?] = [gx, gw]
            if let bias {
                grads.append(
                    bias.needsGrad
                        ? reduceSumKernel(g.reshapedView([rows, outFeatures]), axes: [0]).reshapedView([outFeatures])
                        : nil)
            }
            return grads
        }
    }
}

/// Softmax of attention scores with an additive per-head bias and a token grouping.
///
/// `scores` is `[G, H, N, N]` (G windows or batch items, H heads). `bias`, if
/// given, is `[H, N, N]` and added to every window. `groups`, if given, holds
/// one small integer per token for `period` windows (`[period * N]`; window g
/// uses row `g % period`): a token attends only to tokens of its own group.
/// This is MixMAE's "attention within each source image" in one pass; the
/// result equals adding -1e30 to the other group's logits before the softmax.
///
/// ```swift
/// let p = attentionSoftmax(scores, bias: relBias, groups: windowGroups, period: windowsPerImage)
/// ```
public func attentionSoftmax(_ scores: Tensor, bias: Tensor?, groups: [UInt8]?, period: Int = 1) -> Tensor {
    Profiler.measure("attention_softmax") {
        precondition(
            scores.rank == 4 && scores.shape[2] == scores.shape[3],
            "attentionSoftmax: scores must be [G, H, N, N], got \(scores.shape)")
        let (g, h, n) = (scores.shape[0], scores.shape[1], scores.shape[2])
        if let bias {
            precondition(
                bias.shape == [h, n, n],
                "attentionSoftmax: bias \(bias.shape) does not fit scores \(scores.shape) (expects [\(h), \(n), \(n)])")
        }
        if let groups {
            precondition(
                groups.count == period * n,
                "attentionSoftmax: \(groups.count) group ids for period \(period) and \(n) tokens")
        }
        let p = Tensor(uninitializedShape: scores.shape)
        let ps = scores.data
        let pp = p.data
        let pb: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        let groupStore = groups ?? []
        groupStore.withUnsafeBufferPointer { gp in
            let gptr = groups == nil ? nil : gp.baseAddress
            Parallel.forRanges(g, work: scores.count * 4) { lo, hi in
                mk_attention_softmax(ps, pb, gptr, period, pp, lo, hi, h, n)
            }
        }
        var inputs = [scores]
        if let bias { inputs.append(bias) }
        let saved = p.detached()
        return p.recording("attention_softmax", inputs) { gout in
            let pp = saved.data
            let gs = Tensor(uninitializedShape: scores.shape)
            let wantBias = bias?.needsGrad ?? false
            let chunks = scores.count >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, g) : 1
            let partial = wantBias ? Tensor.zeros([chunks, h, n, n]) : nil
            let pgo = gout.data
            let pgs = gs.data
            Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
                for c in c0..<c1 {
                    mk_attention_softmax_backward(
                        pp, pgo, pgs, partial.map { $0.data + c * h * n * n }, g * c / chunks, g * (c + 1) / chunks, h,
                        n)
                }
            }
            var grads: [Tensor?] = [gs]
            if bias != nil { grads.append(partial.map { reduceSumKernel($0, axes: [0]).reshapedView([h, n, n]) }) }
            return grads
        }
    }
}

/// Mean cross-entropy of `logits` `[N, C]` against integer `labels`; rows whose
/// label is `ignoreIndex` count neither in the sum nor in the mean.
///
/// ```swift
/// let loss = crossEntropy(logits, labels: [3, 0, 1])
/// ```
public func crossEntropy(_ logits: Tensor, labels: [Int], ignoreIndex: Int = -100) -> Tensor {
    Profiler.measure("cross_entropy") {
        precondition(logits.rank == 2, "crossEntropy: logits must be [N, C], got \(logits.shape)")
        let (rows, cols) = (logits.shape[0], logits.shape[1])
        precondition(
            labels.count == rows, "crossEntropy: \(labels.count) labels for \(rows) rows of logits \(logits.shape)")
        for l in labels where l != ignoreIndex {
            precondition(l >= 0 && l < cols, "crossEntropy: label \(l) is out of range 0..<\(cols)")
        }
        let labels64 = labels.map { Int64($0) }
        let logp = Tensor(uninitializedShape: logits.shape)
        let losses = Tensor(uninitializedShape: [rows])
        let px = logits.data
        labels64.withUnsafeBufferPointer { lp in
            Parallel.forRanges(rows, work: logits.count * 4) { lo, hi in
                mk_cross_entropy(px, lp.baseAddress, Int64(ignoreIndex), logp.data, losses.data, lo, hi, cols)
            }
        }
        let valid = labels.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
        let total = mk_sum_double(losses.data, rows)
        let out = Tensor(shape: [], scalars: [Float(valid > 0 ? total / Double(valid) : 0)])
        return out.recording("cross_entropy", [logits]) { g in
            let gx = Tensor(uninitializedShape: logits.shape)
            let scale = valid > 0 ? g.item() / Float(valid) : 0
            labels64.withUnsafeBufferPointer { lp in
                Parallel.forRanges(rows, work: logits.count * 2) { lo, hi in
                    mk_cross_entropy_backward(
                        logp.data, lp.baseAddress, Int64(ignoreIndex), scale, gx.data, lo, hi, cols)
                }
            }
            return [gx]
        }
    }
}

/// Mean cross-entropy of `logits` `[N, C]` against soft targets `[N, C]`
/// (label smoothing, mixup): `mean_n sum_c -t[n,c] log_softmax(x)[n,c]`.
public func softCrossEntropy(_ logits: Tensor, targets: Tensor) -> Tensor {
    Profiler.measure("soft_cross_entropy") {
        precondition(
            logits.shape == targets.shape,
            "softCrossEntropy: targets \(targets.shape) differ from logits \(logits.shape)")
        return -(logits.logSoftmax(axis: -1) * targets).sum(axes: [-1]).mean()
    }
}

/// Mean squared error over every element.
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    Profiler.measure("mse_loss") {
        (prediction - target).square().mean()
    }
}

/// Inverted dropout: zeroes each element with probability `p` and scales the
/// rest by `1 / (1 - p)`; the mask is drawn once and reused by backward.
public func dropout(_ x: Tensor, p: Float, training: Bool, using rng: inout RandomGenerator) -> Tensor {
    Profiler.measure("dropout") {
        if !training || p == 0 { return x }
        precondition(p > 0 && p < 1, "dropout: p must be in [0, 1), got \(p)")
        let mask = Tensor(uninitializedShape: x.shape)
        let keep = 1 / (1 - p)
        for i in 0..<mask.count { mask.data[i] = rng.nextUniform() < p ? 0 : keep }
        return x * mask
    }
}

/// Stochastic depth: drops the whole residual branch of each sample (first
/// axis) with probability `p`, scaling kept samples by `1 / (1 - p)`, as timm's
/// `drop_path`. The per-sample mask is reused by backward.
public func dropPath(_ x: Tensor, p: Float, training: Bool, using rng: inout RandomGenerator) -> Tensor {
    Profiler.measure("drop_path") {
        if !training || p == 0 { return x }
        precondition(p > 0 && p < 1, "dropPath: p must be in [0, 1), got \(p)")
        var maskShape = [Int](repeating: 1, count: x.rank)
        maskShape[0] = x.shape[0]
        let mask = Tensor(uninitializedShape: maskShape)
        let keep = 1 / (1 - p)
        for i in 0..<mask.count { mask.data[i] = rng.nextUniform() < p ? 0 : keep }
        return x * mask
    }
}
