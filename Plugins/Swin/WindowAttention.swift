import MixKit

/// Multi-head attention inside square windows with a learned relative-position
/// bias (Swin): `qkv`, `proj`, `relative_position_bias_table` `[(2w-1)^2, heads]`.
final class WindowAttention: MultiHeadAttention {
    let relativePositionBiasTable: Tensor
    let window: Int

    init(dim: Int, heads: Int, window: Int, qkvBias: Bool, rng: RandomSource) {
        self.window = window
        let side = 2 * window - 1
        relativePositionBiasTable = Tensor.zeros([side * side, heads]).asParameter()
        Init.truncatedNormal(relativePositionBiasTable, std: 0.02, using: rng)
        super.init(dim: dim, heads: heads, qkvBias: qkvBias, rng: rng)
    }

    /// Attention over windows `[Bw, w*w, C]` in the order of `layout`: within
    /// each window, or, with groups, within each group's run of tokens (each
    /// source image of a mixed batch), with the bias of every token pair at
    /// its places in the window.
    /// With `residual` (`[Bw, w*w, C]`), returns `residual + attention`, the sum made as the output projection
    /// computes each block.
    func attend(_ windows: Tensor, layout: WindowLayout, adding residual: Tensor? = nil) -> Tensor {
        let n = window * window
        guard let spans = layout.spans else {
            let bias = relativePositionBias(table: relativePositionBiasTable, window: window).reshaped([heads, n, n])
            return residual.map { self(windows, bias: bias, adding: $0) } ?? self(windows, bias: bias)
        }
        let bias = relativePositionBias(table: relativePositionBiasTable, window: window, order: layout.tokenPlaces)
        return residual.map { self(windows, bias: bias, spans: spans, adding: $0) }
            ?? self(windows, bias: bias, spans: spans)
    }
}
