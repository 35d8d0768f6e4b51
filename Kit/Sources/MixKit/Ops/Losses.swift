import CKernels

/// Mean cross-entropy of `logits` `[N, C]` against integer `labels`; rows whose
/// label is `ignoreIndex` count neither in the sum nor in the mean.
///
/// ```swift
/// let loss = crossEntropy(logits, labels: [3, 0, 1])
/// ```
public func crossEntropy(_ logits: Tensor, labels: [Int], ignoreIndex: Int = -100) -> Tensor {
    defineOp("cross_entropy", logits) { op in
        op.requireRank(logits, 2, "logits", layout: "[N, C]")
        let (rows, cols) = (logits.shape[0], logits.shape[1])
        op.require(labels.count == rows, "\(labels.count) labels for \(rows) rows of logits")
        for l in labels where l != ignoreIndex {
            op.require(l >= 0 && l < cols, "label \(l) is out of range 0..<\(cols)")
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
        return OpResult(out) { g in
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
    defineOp("soft_cross_entropy", logits, targets) { op in
        op.requireSameShape(logits, targets)
        return OpResult(-(logits.logSoftmax(axis: -1) * targets).sum(axes: [-1]).mean())
    }
}

/// Mean squared error over every element.
public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    defineOp("mse_loss", prediction, target) { op in
        op.requireBroadcastable(prediction, target)
        return OpResult((prediction - target).square().mean())
    }
}
