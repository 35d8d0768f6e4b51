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
/// `drop_path`. The per-sample mask is reused by backward.
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
        for i in 0..<mask.count { mask.data[i] = rng.nextUniform() < p ? 0 : keep }
        return OpResult(x * mask)
    }
}
