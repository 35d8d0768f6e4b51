import CKernels

extension Tensor {
    /// Softmax over `axis` (the last by default).
    ///
    /// ```swift
    /// let p = scores.softmax()   // each row sums to 1
    /// ```
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
        defineOp(name, self) { op in
            op.require(rank >= 1 && axis >= -rank && axis < rank, "axis \(axis) is out of range")
            let a = normalizeAxis(axis)
            if a != rank - 1 {
                // A composite: permute the axis last, apply, permute back.
                var axes = Array(0..<rank)
                axes.swapAt(a, rank - 1)
                return OpResult(
                    permuted(axes).rowwise(name, axis: -1, forward: forward, backward: backward).permuted(axes))
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
            return OpResult(y) { g in
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
/// let p = attentionSoftmax(scores, bias: relBias, groups: idsInWindowOrder, period: windowsPerImage)
/// ```
public func attentionSoftmax(_ scores: Tensor, bias: Tensor?, groups: [UInt8]?, period: Int = 1) -> Tensor {
    defineOp("attention_softmax", scores, bias) { op in
        op.require(
            scores.rank == 4 && scores.shape[2] == scores.shape[3], "scores must be [G, H, N, N], got \(scores.shape)")
        let (g, h, n) = (scores.shape[0], scores.shape[1], scores.shape[2])
        if let bias { op.requireShape(bias, [h, n, n], "bias") }
        if let groups {
            op.require(
                period > 0 && groups.count == period * n,
                "\(groups.count) group ids for period \(period) and \(n) tokens")
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
        let saved = p.detached()
        return OpResult(p) { gout in
            let pp = saved.data
            let gs = Tensor(uninitializedShape: scores.shape)
            let wantBias = bias?.needsGrad ?? false
            let chunks = scores.count >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, g) : 1
            let partial = wantBias ? PartialSums(parts: chunks, columns: h * n * n) : nil
            let pgo = gout.data
            let pgs = gs.data
            Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
                for c in c0..<c1 {
                    mk_attention_softmax_backward(
                        pp, pgo, pgs, partial?.row(c), g * c / chunks, g * (c + 1) / chunks, h, n)
                }
            }
            return [gs, partial.map { $0.total().reshapedView([h, n, n]) }]
        }
    }
}
