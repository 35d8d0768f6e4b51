import MixKit

/// Multi-head attention inside square windows with a learned relative-position
/// bias (Swin): `qkv`, `proj`, `relative_position_bias_table` `[(2w-1)^2, heads]`.
final class WindowAttention: MultiHeadAttention {
    let relativePositionBiasTable: Tensor
    /// For each head and (query, key) pair of a window, its place in the bias table
    /// transposed and flattened (`[heads * (2w-1)^2]`), so one gather gives the bias
    /// `[heads, N, N]` the attention op takes.
    let biasIndex: [Int]
    let window: Int

    init(dim: Int, heads: Int, window: Int, qkvBias: Bool, rng: RandomSource) {
        self.window = window
        let side = 2 * window - 1
        relativePositionBiasTable = Tensor.zeros([side * side, heads]).asParameter()
        Init.truncatedNormal(relativePositionBiasTable, std: 0.02, using: rng)
        let n = window * window
        biasIndex = Self.headMajorBiasIndex(
            window: window, heads: heads, order: Array(0..<n), relative: Self.relativePositionIndex(window: window))
        super.init(dim: dim, heads: heads, qkvBias: qkvBias, rng: rng)
    }

    /// For each (query, key) pair of a window, its row of the bias table
    /// (the reference's `relative_position_index`).
    static func relativePositionIndex(window: Int) -> [Int] {
        let side = 2 * window - 1
        var index: [Int] = []
        index.reserveCapacity(window * window * window * window)
        for q in 0..<(window * window) {
            for k in 0..<(window * window) {
                let dy = q / window - k / window + window - 1
                let dx = q % window - k % window + window - 1
                index.append(dy * side + dx)
            }
        }
        return index
    }

    /// The places in the head-major table of the bias `[P, heads, N, N]` of `P`
    /// windows whose tokens come in `order` (`[P * N]`, each token's place in its
    /// window); `relative` is ``relativePositionIndex(window:)``.
    static func headMajorBiasIndex(window: Int, heads: Int, order: [Int], relative: [Int]) -> [Int] {
        let n = window * window
        let tableRows = (2 * window - 1) * (2 * window - 1)
        var index: [Int] = []
        index.reserveCapacity(order.count * heads * n)
        for base in stride(from: 0, to: order.count, by: n) {
            let places = order[base..<(base + n)]
            for h in 0..<heads {
                for query in places {
                    for key in places { index.append(h * tableRows + relative[query * n + key]) }
                }
            }
        }
        return index
    }

    /// Attention over windows `[Bw, w*w, C]` in the order of `layout`: within
    /// each window, or, with groups, within each group's run of tokens (each
    /// source image of a mixed batch), with the bias of every token pair at
    /// its places in the window.
    /// With `residual` (`[Bw, w*w, C]`), returns `residual + attention`, the sum made as the output projection
    /// computes each block.
    func attend(_ windows: Tensor, layout: WindowLayout, adding residual: Tensor? = nil) -> Tensor {
        let n = window * window
        let table = relativePositionBiasTable.permuted([1, 0]).reshaped([-1])
        guard let spans = layout.spans else {
            let bias = table.indexSelect(axis: 0, indices: biasIndex).reshaped([heads, n, n])
            return residual.map { self(windows, bias: bias, adding: $0) } ?? self(windows, bias: bias)
        }
        let bias = table.indexSelect(axis: 0, indices: layout.biasIndex).reshaped([spans.period, heads, n, n])
        return residual.map { self(windows, bias: bias, spans: spans, adding: $0) }
            ?? self(windows, bias: bias, spans: spans)
    }
}
