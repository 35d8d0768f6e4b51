import MixKit

/// Multi-head attention inside square windows with a learned relative-position
/// bias (Swin): `qkv`, `proj`, `relative_position_bias_table` `[(2w-1)^2, heads]`.
final class WindowAttention: MultiHeadAttention {
    let relativePositionBiasTable: Tensor
    /// For each (query, key) pair of a window, its row of the bias table
    /// (the reference's `relative_position_index`, derived, not saved).
    let relativePositionIndex: [Int]
    let window: Int

    init(dim: Int, heads: Int, window: Int, qkvBias: Bool, rng: RandomSource) {
        self.window = window
        let side = 2 * window - 1
        relativePositionBiasTable = Tensor.zeros([side * side, heads]).asParameter()
        Init.truncatedNormal(relativePositionBiasTable, std: 0.02, using: rng)
        var index: [Int] = []
        index.reserveCapacity(window * window * window * window)
        for q in 0..<(window * window) {
            for k in 0..<(window * window) {
                let dy = q / window - k / window + window - 1
                let dx = q % window - k % window + window - 1
                index.append(dy * side + dx)
            }
        }
        relativePositionIndex = index
        super.init(dim: dim, heads: heads, qkvBias: qkvBias, rng: rng)
    }

    /// Attention over windows `[Bw, w*w, C]`; `groups` (one id per token of the
    /// windows of one image, `[windowsPerImage * w*w]`) keeps attention within
    /// each source image of a mixed batch.
    func attend(_ windows: Tensor, groups: [UInt8]?, windowsPerImage: Int) -> Tensor {
        let n = window * window
        let bias = relativePositionBiasTable.indexSelect(axis: 0, indices: relativePositionIndex)
            .reshaped([n, n, heads]).permuted([2, 0, 1])
        return self(windows, bias: bias, groups: groups, period: windowsPerImage)
    }
}
