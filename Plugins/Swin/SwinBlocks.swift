import MixKit

/// Splits `[B, H, W, C]` into windows `[B * (H/w) * (W/w), w*w, C]`, row-major over windows.
func windowPartition(_ x: Tensor, window w: Int) -> Tensor {
    let (b, h, wd, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    if h == w && wd == w { return x.reshaped([b, w * w, c]) }
    return x.reshaped([b, h / w, w, wd / w, w, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([-1, w * w, c])
}

/// The inverse of ``windowPartition(_:window:)``: windows back to `[B, H*W, C]`.
func windowReverse(_ windows: Tensor, window w: Int, height h: Int, width wd: Int) -> Tensor {
    let c = windows.shape[2]
    let b = windows.shape[0] / ((h / w) * (wd / w))
    if h == w && wd == w { return windows.reshaped([b, h * wd, c]) }
    return windows.reshaped([b, h / w, wd / w, w, w, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b, h * wd, c])
}

/// Per-token group ids `[H*W]` reordered the way ``windowPartition(_:window:)`` orders tokens.
func windowGroups(_ groups: [UInt8], window w: Int, height h: Int, width wd: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(groups.count)
    for wy in 0..<(h / w) {
        for wx in 0..<(wd / w) {
            for iy in 0..<w {
                for ix in 0..<w { out.append(groups[(wy * w + iy) * wd + wx * w + ix]) }
            }
        }
    }
    return out
}

/// A pre-norm Swin block without shifted windows: window attention, then MLP,
/// each with a residual connection and stochastic depth.
///
/// The block works on tokens in window order (``windowPartition(_:window:)``):
/// every other op of the block is per token, so the stage partitions once
/// and reverses once, instead of every block permuting twice each way.
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

    /// `x` `[B, L, C]` in window order, `windowsPerImage` windows of `window * window`
    /// tokens per image; `groups` `[L]` the tokens' group ids in the same order (source
    /// image when mixing, ``GridPadding/paddedGroup`` for padding), if any.
    func callAsFunction(_ x: Tensor, windowGroups groups: [UInt8]?, windowsPerImage: Int) -> Tensor {
        let (b, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        precondition(l == windowsPerImage * window * window, "SwinBlock: \(l) tokens for \(windowsPerImage) windows")
        let windows = norm1(x).reshaped([b * windowsPerImage, window * window, c])
        let attended = attn.attend(windows, groups: groups, windowsPerImage: windowsPerImage).reshaped([b, l, c])
        let h = x + dropPath(attended, p: dropPathRate, training: isTraining, using: rng)
        return h + dropPath(mlp(norm2(h)), p: dropPathRate, training: isTraining, using: rng)
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
    /// (`padding`, by default the smallest) with the padded tokens masked out as keys.
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
        var h = windowPartition(padded.reshaped([b, ph, pw, c]), window: window).reshaped([b, ph * pw, c])
        let grouped = gridGroups.map { windowGroups($0, window: window, height: ph, width: pw) }
        let windowsPerImage = (ph / window) * (pw / window)
        for block in blocks { h = block(h, windowGroups: grouped, windowsPerImage: windowsPerImage) }
        let features = plan.crop(
            windowReverse(h.reshaped([-1, window * window, c]), window: window, height: ph, width: pw))
        return (features, merge(features))
    }
}
