/// Inverted dropout: zeroes each element with probability `p` and scales the
/// rest by `1 / (1 - p)`; the mask is drawn once and reused by backward.
///
/// ```swift
/// let h = dropout(x, p: 0.1, training: isTraining, using: rng)   // rng: the model's RandomSource
/// ```
public func dropout(_ x: Tensor, p: Float, training: Bool, using rng: RandomSource) -> Tensor {
    if !training || p == 0 { return x }
    return rng.withGenerator { dropout(x, p: p, training: true, using: &$0) }
}

/// ``dropout(_:p:training:using:)-(_,_,_,RandomSource)`` drawing from a generator value.
public func dropout(_ x: Tensor, p: Float, training: Bool, using rng: inout RandomGenerator) -> Tensor {
    defineOp("dropout", x) { op in
        if !training || p == 0 { return OpResult(x) }
        op.require(p > 0 && p < 1, "p must be in [0, 1), got \(p)")
        let mask = Tensor(uninitializedShape: x.shape)
        let keep = 1 / (1 - p)
        for i in 0..<mask.count { mask.data[i] = rng.nextUniform() < p ? 0 : keep }
        return OpResult(x * mask)
    }
}

/// Stochastic depth: drops the whole residual branch of each sample (first
/// axis) with probability `p`, scaling kept samples by `1 / (1 - p)`, as timm's
/// `drop_path`. The per-sample mask is reused by backward. For a residual
/// branch, ``dropPathResidual(_:p:training:using:_:)`` gives the same values
/// without computing the branch for the samples it drops.
///
/// ```swift
/// let y = x + dropPath(branch(x), p: 0.1, training: isTraining, using: rng)
/// ```
public func dropPath(_ x: Tensor, p: Float, training: Bool, using rng: RandomSource) -> Tensor {
    if !training || p == 0 { return x }
    return rng.withGenerator { dropPath(x, p: p, training: true, using: &$0) }
}

/// ``dropPath(_:p:training:using:)-(_,_,_,RandomSource)`` drawing from a generator value.
public func dropPath(_ x: Tensor, p: Float, training: Bool, using rng: inout RandomGenerator) -> Tensor {
    defineOp("drop_path", x) { op in
        if !training || p == 0 { return OpResult(x) }
        op.require(p > 0 && p < 1, "p must be in [0, 1), got \(p)")
        op.require(x.rank >= 1, "needs a batch axis, got a scalar")
        var maskShape = [Int](repeating: 1, count: x.rank)
        maskShape[0] = x.shape[0]
        let mask = Tensor(uninitializedShape: maskShape)
        let keep = 1 / (1 - p)
        for (i, kept) in dropPathKeeps(batch: x.shape[0], p: p, using: &rng).enumerated() {
            mask.data[i] = kept ? keep : 0
        }
        return OpResult(x * mask)
    }
}

/// Whether each of `batch` samples survives drop path at rate `p`: one uniform per sample, in order, kept when it
/// is `p` or more. Both drop-path forms draw through it, so from the same generator they keep the same samples.
func dropPathKeeps(batch: Int, p: Float, using rng: inout RandomGenerator) -> [Bool] {
    (0..<batch).map { _ in rng.nextUniform() >= p }
}

/// A residual connection with stochastic depth, `x + dropPath(branch(x))`,
/// that runs `branch` only on the samples (first axis) it keeps.
///
/// timm computes the branch for every sample and multiplies the dropped ones
/// by zero; here a dropped sample costs nothing. The mask is drawn as
/// ``dropPath(_:p:training:using:)-(_,_,_,RandomSource)`` draws it (one
/// uniform per sample, before the branch runs, so the generator moves the
/// same way), and kept samples are scaled by `1 / (1 - p)`: the values are the
/// same as the composed form's. `branch` must treat the samples of its batch
/// independently (per-token layers, attention within a sample), since it sees
/// only the kept ones. When every sample is dropped the branch still runs on
/// the whole batch, times zero, so that its parameters get the zero gradients
/// (and AdamW its weight decay) that timm gives them. Outside training, or with
/// `p` 0, this is `x + branch(x)`. A pre-norm branch is better given as
/// ``dropPathResidual(_:p:training:using:normalizedBy:_:)``.
///
/// ```swift
/// let h = dropPathResidual(x, p: 0.1, training: isTraining, using: rng) { mlp(norm($0)) }
/// ```
public func dropPathResidual(
    _ x: Tensor, p: Float, training: Bool, using rng: RandomSource, _ branch: (Tensor) -> Tensor
) -> Tensor {
    residual(x, p: p, training: training, using: rng) { kept in
        branch(kept.map { x.indexSelect(axis: 0, indices: $0) } ?? x)
    }
}

/// ``dropPathResidual(_:p:training:using:_:)`` of a pre-norm branch,
/// `x + dropPath(branch(norm(x)))`: the norm reads the kept samples of `x` in
/// place (``LayerNorm/callAsFunction(_:samples:)``) instead of a gathered copy
/// of them, which backward would keep alive next to `x`. Same values.
///
/// ```swift
/// let h = dropPathResidual(x, p: 0.1, training: isTraining, using: rng, normalizedBy: norm2) { mlp($0) }
/// ```
public func dropPathResidual(
    _ x: Tensor, p: Float, training: Bool, using rng: RandomSource, normalizedBy norm: LayerNorm,
    _ branch: (Tensor) -> Tensor
) -> Tensor {
    residual(x, p: p, training: training, using: rng) { kept in
        branch(kept.map { norm(x, samples: $0) } ?? norm(x))
    }
}

/// `x` plus drop path of `branch` run on the samples it keeps: `branch` gets their indices, or nil for every
/// sample (when all are kept or all dropped).
private func residual(
    _ x: Tensor, p: Float, training: Bool, using rng: RandomSource, _ branch: ([Int]?) -> Tensor
) -> Tensor {
    if !training || p == 0 { return x + branch(nil) }
    precondition(p > 0 && p < 1, "dropPathResidual: p must be in [0, 1), got \(p) (input shape \(x.shape))")
    precondition(x.rank >= 1, "dropPathResidual: needs a batch axis, got a scalar")
    let batch = x.shape[0]
    let keeps = rng.withGenerator { dropPathKeeps(batch: batch, p: p, using: &$0) }
    let kept = keeps.indices.filter { keeps[$0] }
    if kept.isEmpty { return x + branch(nil) * 0 }
    // One op adds the scaled branch into the kept samples' rows; its backward passes the output's gradient on to
    // `x` as it is, and the branch's input adds its gradient into that, kept rows only.
    return x.indexAdd(axis: 0, indices: kept, source: branch(kept.count == batch ? nil : kept), alpha: 1 / (1 - p))
}
