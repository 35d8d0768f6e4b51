import CKernels

/// Element-wise sigmoid focal loss (Lin et al., as mmdet's `sigmoid_focal_loss`
/// with `reduction="none"`) of `logits` `[N, C]`: row `i` has positive class
/// `labels[i]` when that is in `0..<C`; any other label (use -1) makes every
/// class of the row a negative (background).
///
/// `loss = -alpha (1-p)^gamma log p` for the positive class and
/// `-(1-alpha) p^gamma log(1-p)` for the others, `p = sigmoid(logit)`.
/// Returns `[N, C]`; sum it and divide by the number of positives, as FCOS does.
///
/// ```swift
/// let cls = sigmoidFocalLoss(logits, labels: assigned).sum() / Float(max(positives, 1))
/// ```
public func sigmoidFocalLoss(_ logits: Tensor, labels: [Int], alpha: Float = 0.25, gamma: Float = 2) -> Tensor {
    defineOp("sigmoid_focal_loss", logits) { op in
        op.requireRank(logits, 2, "logits", layout: "[N, C]")
        let (rows, classes) = (logits.shape[0], logits.shape[1])
        op.require(labels.count == rows, "\(labels.count) labels for \(rows) rows of logits")
        let labels64 = labels.map { Int64($0) }
        let loss = Tensor(uninitializedShape: logits.shape)
        // The derivative comes out of the same pass, when backward will need it.
        let grad: Tensor? = op.isRecording ? Tensor(uninitializedShape: logits.shape) : nil
        labels64.withUnsafeBufferPointer { lp in
            Parallel.forRanges(rows, work: logits.count * 16) { lo, hi in
                mk_sigmoid_focal(logits.data, lp.baseAddress, classes, alpha, gamma, loss.data, grad?.data, lo, hi)
            }
        }
        guard let grad else { return OpResult(loss) }
        return OpResult(loss) { g in [binaryKernel(.mul, g, grad)] }
    }
}

/// Element-wise binary cross-entropy of `logits` against `targets` in [0, 1]
/// (PyTorch's `F.binary_cross_entropy_with_logits`, `reduction="none"`),
/// computed stably as `max(x, 0) - x*t + log(1 + e^-|x|)`. The targets are
/// constants: no gradient flows into them.
///
/// ```swift
/// let centerness = binaryCrossEntropyWithLogits(predicted, targets: wanted).mean()
/// ```
public func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor) -> Tensor {
    defineOp("bce_with_logits", logits) { op in
        op.require(logits.shape == targets.shape, "targets \(targets.shape) differ from logits \(logits.shape)")
        let loss = Tensor(uninitializedShape: logits.shape)
        let grad: Tensor? = op.isRecording ? Tensor(uninitializedShape: logits.shape) : nil
        Parallel.forRanges(logits.count, work: logits.count * 16) { lo, hi in
            mk_bce_logits(logits.data + lo, targets.data + lo, loss.data + lo, grad.map { $0.data + lo }, hi - lo)
        }
        guard let grad else { return OpResult(loss) }
        return OpResult(loss) { g in [binaryKernel(.mul, g, grad)] }
    }
}

/// `1 - GIoU` of aligned boxes `[N, 4]` given as `(x1, y1, x2, y2)`, one value
/// per row, as mmdet's `GIoULoss` (`bbox_overlaps(mode="giou", is_aligned=True)`,
/// union and enclosing area clamped below by `eps`). The gradient flows into
/// `predicted` only; `target` is a constant.
///
/// ```swift
/// let boxes = giouLoss(predictedBoxes, targetBoxes)        // [N]
/// let weighted = (boxes * centernessTargets).sum() / centernessTargets.sum()
/// ```
public func giouLoss(_ predicted: Tensor, _ target: Tensor, eps: Float = 1e-6) -> Tensor {
    defineOp("giou_loss", predicted) { op in
        op.require(
            predicted.rank == 2 && predicted.shape[1] == 4 && target.shape == predicted.shape,
            "boxes must both be [N, 4], got \(predicted.shape) and \(target.shape)")
        let n = predicted.shape[0]
        let loss = Tensor(uninitializedShape: [n])
        let grad: Tensor? = op.isRecording ? Tensor(uninitializedShape: predicted.shape) : nil
        mk_giou_loss(predicted.data, target.data, n, eps, loss.data, grad?.data)
        guard let grad else { return OpResult(loss) }
        return OpResult(loss) { g in [binaryKernel(.mul, g.reshapedView([n, 1]), grad)] }
    }
}
