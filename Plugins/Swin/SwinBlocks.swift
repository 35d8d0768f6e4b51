import MixKit

/// A pre-norm Swin block without shifted windows: window attention, then MLP,
/// each with a residual connection and stochastic depth.
///
/// The block works on tokens in window order (``WindowLayout``): every other
/// op of the block is per token, so the stage orders its tokens once and
/// restores the grid once, instead of every block permuting twice each way.
final class SwinBlock: Module {
    let norm1: LayerNorm
    let attn: WindowAttention
    let norm2: LayerNorm
    let mlp: MLP
    let dropPathRate: Float
    let window: Int
    /// The model's generator, for drop path.
    let rng: RandomSource

    init(dim: Int, heads: Int, window: Int, mlpRatio: Double, qkvBias: Bool, dropPath: Float, rng: RandomSource) {
        norm1 = LayerNorm(dim)
        attn = WindowAttention(dim: dim, heads: heads, window: window, qkvBias: qkvBias, rng: rng)
        norm2 = LayerNorm(dim)
        mlp = MLP(dim, hidden: Int(Double(dim) * mlpRatio), rng: rng)
        dropPathRate = dropPath
        self.rng = rng
        self.window = window
        super.init()
    }

    /// `x` `[B, L, C]` in the window order of `layout`.
    func callAsFunction(_ x: Tensor, layout: WindowLayout) -> Tensor {
        let (b, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        precondition(
            l == layout.windowsPerImage * window * window,
            "SwinBlock: \(l) tokens for \(layout.windowsPerImage) windows")
        guard dropPathRate > 0 && isTraining else {
            // Without drop path each residual connection is added as the layer that ends its branch computes it.
            let windowShape = [b * layout.windowsPerImage, window * window, c]
            let windows = norm1(x).reshaped(windowShape)
            let h = attn.attend(windows, layout: layout, adding: x.reshaped(windowShape)).reshaped([b, l, c])
            return mlp(norm2(h), adding: h)
        }
        // With drop path the branches run on the samples they keep only (every op of a branch is per sample).
        let h = dropPathResidual(x, p: dropPathRate, training: true, using: rng, normalizedBy: norm1) { normalized in
            let count = normalized.shape[0]
            let windows = normalized.reshaped([count * layout.windowsPerImage, window * window, c])
            return attn.attend(windows, layout: layout).reshaped([count, l, c])
        }
        return dropPathResidual(h, p: dropPathRate, training: true, using: rng, normalizedBy: norm2) { mlp($0) }
    }
}

/// Halves the grid and doubles the channels: the four 2x2 neighbours in the
/// reference order (row 0, col 0), (row 1, col 0), (row 0, col 1), (row 1, col 1),
/// then LayerNorm(4C), then a bias-free Linear(4C, 2C). An odd grid is first
/// padded with zeros at the bottom/right, as Swin does.
final class PatchMerging: Module {
    let norm: LayerNorm
    let reduction: Linear

    init(dim: Int, rng: RandomSource) {
        norm = LayerNorm(4 * dim)
        reduction = Linear(4 * dim, 2 * dim, bias: false, rng: rng)
        super.init()
    }

    /// `x` `[B, H*W, C]` row-major to `[B, ceil(H/2)*ceil(W/2), 2C]`.
    func callAsFunction(_ x: Tensor, height: Int, width: Int) -> Tensor {
        let (b, c) = (x.shape[0], x.shape[2])
        let even = GridPadding(height: height, width: width, window: 2)
        let (h, w) = (even.paddedHeight, even.paddedWidth)
        // [B, H/2, r, W/2, q, C] -> [B, H/2, W/2, q, r, C]: neighbour index = q * 2 + r.
        let neighbours = even.pad(x).reshaped([b, h / 2, 2, w / 2, 2, c]).permuted([0, 1, 3, 4, 2, 5])
            .reshaped([b, (h / 2) * (w / 2), 4 * c])
        return reduction(norm(neighbours))
    }
}

/// One stage: blocks at one resolution, then an optional patch merging.
package final class SwinStage: Module {
    let blocks: [SwinBlock]
    let downsample: PatchMerging?
    let window: Int

    init(blocks: [SwinBlock], downsample: PatchMerging?, window: Int) {
        self.blocks = blocks
        self.downsample = downsample
        self.window = window
        super.init()
    }

    /// Returns the stage's output before and after the patch merging, both row-major
    /// over their grids (`[B, H*W, C]` and `[B, ceil(H/2)*ceil(W/2), 2C]`); the blocks
    /// run in window order in between, on the grid padded to whole windows
    /// (`padding`, by default the smallest), the padded tokens a group of their own.
    package func callAsFunction(
        _ x: Tensor, height: Int, width: Int, groups: [UInt8]?, padding: GridPadding? = nil, fill: Float = 0
    ) -> (features: Tensor, next: Tensor) {
        let plan = padding ?? GridPadding(height: height, width: width, window: window)
        let merge = { (features: Tensor) in
            self.downsample.map { $0(features, height: height, width: width) } ?? features
        }
        guard !blocks.isEmpty else { return (x, merge(x)) }
        let (b, c) = (x.shape[0], x.shape[2])
        let (ph, pw) = (plan.paddedHeight, plan.paddedWidth)
        let padded = plan.pad(x, fill: fill)
        let gridGroups = plan.isEmpty ? groups : plan.groups(groups)
        let layout = WindowLayout(window: window, height: ph, width: pw, groups: gridGroups)
        var h = layout.order(padded.reshaped([b, ph, pw, c]))
        for block in blocks { h = block(h, layout: layout) }
        let features = plan.crop(layout.restore(h))
        return (features, merge(features))
    }
}
