import Foundation

/// In-place weight initialisers (PyTorch's `nn.init` family), drawing from the
/// model's ``RandomSource``.
///
/// ```swift
/// let rng = RandomSource(seed: 0)
/// let fc = Linear(64, 128, rng: rng)
/// Init.truncatedNormal(fc.weight, std: 0.02, using: rng)
/// Init.constant(fc.bias!, 0)
/// ```
public enum Init {
    /// Xavier/Glorot uniform for a weight whose first axis is fan-out and the
    /// product of the rest is fan-in (a Linear `[out, in]` or a conv `[out, in, kh, kw]`).
    public static func xavierUniform(_ t: Tensor, gain: Float = 1, using rng: RandomSource) {
        precondition(t.rank >= 2, "xavierUniform: needs a tensor of rank >= 2, got \(t.shape)")
        let fanOut = t.shape[0] * t.shape[2...].reduce(1, *)
        let fanIn = t.shape[1...].reduce(1, *)
        let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
        uniform(t, low: -bound, high: bound, using: rng)
    }

    /// Normal values with `std`, truncated to `[low, high]` (timm's `trunc_normal_`).
    public static func truncatedNormal(
        _ t: Tensor, std: Float = 0.02, low: Float = -2, high: Float = 2, using rng: RandomSource
    ) {
        t.assign(Tensor.truncatedNormal(t.shape, std: std, low: low, high: high, using: rng))
    }

    /// Normal values with `mean` and `std`.
    public static func normal(_ t: Tensor, mean: Float = 0, std: Float, using rng: RandomSource) {
        t.assign(Tensor.randomNormal(t.shape, mean: mean, std: std, using: rng))
    }

    /// Uniform values in `[low, high)`.
    public static func uniform(_ t: Tensor, low: Float, high: Float, using rng: RandomSource) {
        t.assign(Tensor.randomUniform(t.shape, low: low, high: high, using: rng))
    }

    /// Every element `value`.
    public static func constant(_ t: Tensor, _ value: Float) { t.fill(value) }
}

/// Fixed 2-D sine-cosine position embedding, `[gridSize * gridSize, dim]`, as MAE's
/// `get_2d_sincos_pos_embed`: the first half of the channels encodes the column
/// (w) and the second half the row (h), each as `[sin(pos * ω), cos(pos * ω)]`
/// with `ω_i = 1 / 10000^(i / (dim/4))`; token `h * gridSize + w`.
public func sinCosPositionEmbedding(dim: Int, gridSize: Int) -> Tensor {
    precondition(dim % 4 == 0, "sinCosPositionEmbedding: dim must be a multiple of 4, got \(dim)")
    let quarter = dim / 4
    let out = Tensor(uninitializedShape: [gridSize * gridSize, dim])
    let omega = (0..<quarter).map { 1 / Foundation.pow(10000, Double($0) / Double(quarter)) }
    for h in 0..<gridSize {
        for w in 0..<gridSize {
            let row = out.data + (h * gridSize + w) * dim
            for i in 0..<quarter {
                let a = Double(w) * omega[i]
                let b = Double(h) * omega[i]
                row[i] = Float(Foundation.sin(a))
                row[quarter + i] = Float(Foundation.cos(a))
                row[2 * quarter + i] = Float(Foundation.sin(b))
                row[3 * quarter + i] = Float(Foundation.cos(b))
            }
        }
    }
    return out
}
