import MixKit

/// PVT v2's overlapping patch embedding: a strided convolution whose kernel is
/// larger than its stride (7/4 for the first stage, 3/2 after), then LayerNorm.
/// Names: `proj.weight`, `proj.bias`, `norm.weight`, `norm.bias`.
final class OverlapPatchEmbed: Module {
    let proj: TokenConv2d
    let norm: LayerNorm

    init(inChannels: Int, dim: Int, kernel: Int, stride: Int, rng: RandomSource) {
        proj = TokenConv2d(inChannels, dim, kernel: kernel, stride: stride, padding: kernel / 2, rng: rng)
        norm = LayerNorm(dim, eps: 1e-6)
        super.init()
    }

    /// Embeds `tokens` `[B, height * width, in]`; with `mixing`, each output token
    /// reads only input tokens of its own source image (see ``TokenConv2d``).
    func callAsFunction(_ tokens: Tensor, height: Int, width: Int, mixing: MixingMask? = nil)
        -> (Tensor, height: Int, width: Int)
    {
        let (y, h, w) = proj(tokens, height: height, width: width, mixing: mixing)
        return (norm(y), h, w)
    }
}

/// Spatial-reduction attention: queries from every token, keys and values from
/// the grid shrunk by a convolution with kernel = stride = `srRatio`, then
/// LayerNorm. Names: `q`, `kv`, `proj`, and `sr`, `norm` when `srRatio > 1`.
///
/// With a MixMAE mask, a query attends only to keys of its own source image.
/// The reduction needs no change for that: when every reduced key pools tokens
/// of a single 32x32-pixel mask unit (``PVTConfig`` checks it), no key mixes the
/// two images.
public final class SpatialReductionAttention: Module {
    public let q: Linear
    public let kv: Linear
    let proj: Linear
    public let sr: TokenConv2d?
    let norm: LayerNorm?
    let heads: Int
    let scale: Float

    public init(dim: Int, heads: Int, srRatio: Int, rng: RandomSource) {
        q = Linear(dim, dim, rng: rng)
        kv = Linear(dim, 2 * dim, rng: rng)
        proj = Linear(dim, dim, rng: rng)
        sr = srRatio > 1 ? TokenConv2d(dim, dim, kernel: srRatio, stride: srRatio, padding: 0, rng: rng) : nil
        norm = srRatio > 1 ? LayerNorm(dim, eps: 1e-5) : nil
        self.heads = heads
        scale = 1 / Float(dim / heads).squareRoot()
        super.init()
    }

    public func callAsFunction(_ x: Tensor, height: Int, width: Int, mixing: MixingMask? = nil) -> Tensor {
        let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        let d = c / heads
        let queries = (q(x) * scale).reshaped([b, n, heads, d]).permuted([0, 2, 1, 3])
        var source = x
        var keyGrid = (height: height, width: width)
        if let sr, let norm {
            let (tokens, h, w) = Self.padToOneKey(x, height: height, width: width, ratio: sr.weight.shape[2])
            let (reduced, kh, kw) = sr(tokens, height: h, width: w)
            (source, keyGrid) = (norm(reduced), (kh, kw))
        }
        let m = source.shape[1]
        let keysValues = kv(source).reshaped([b, m, 2, heads, d]).permuted([2, 0, 3, 1, 4])
        let keys = keysValues.slice(axis: 0, 0..<1).reshaped([b, heads, m, d])
        let values = keysValues.slice(axis: 0, 1..<2).reshaped([b, heads, m, d])
        var scores = matmul(queries, keys, transposeB: true)
        if let mixing {
            scores = scores + mixing.attentionBias(queries: (height, width), keys: keyGrid)
        }
        let attention = scores.softmax()
        return proj(matmul(attention, values).permuted([0, 2, 1, 3]).reshaped([b, n, c]))
    }
}

extension SpatialReductionAttention {
    /// The token grid `[B, height * width, C]` with zero rows and columns added at the bottom and
    /// right up to `ratio` tokens on a side shorter than that, so the reduction still gives one key
    /// there (the reference's `Conv2d(kernel = stride = ratio)` gives none and fails). A grid
    /// of at least `ratio` on both sides is returned as it is: the reduction then floors, as
    /// `Conv2d` does, and matches the reference.
    public static func padToOneKey(_ x: Tensor, height: Int, width: Int, ratio: Int) -> (
        Tensor, height: Int, width: Int
    ) {
        guard height < ratio || width < ratio else { return (x, height, width) }
        let (b, c) = (x.shape[0], x.shape[2])
        let (h, w) = (max(height, ratio), max(width, ratio))
        var grid = x.reshaped([b, height, width, c])
        if w > width { grid = concatenate([grid, Tensor.zeros([b, height, w - width, c])], axis: 2) }
        if h > height { grid = concatenate([grid, Tensor.zeros([b, h - height, w, c])], axis: 1) }
        return (grid.reshaped([b, h * w, c]), h, w)
    }
}

/// The depthwise 3x3 convolution inside PVT v2's MLP; named `dwconv.dwconv` as in the reference.
final class DepthwiseConv: Module {
    let dwconv: TokenConv2d

    init(_ dim: Int, rng: RandomSource) {
        dwconv = TokenConv2d(dim, dim, kernel: 3, stride: 1, padding: 1, depthwise: true, rng: rng)
        super.init()
    }
}

/// PVT v2's MLP: `fc1`, a depthwise 3x3 convolution (which also gives the
/// tokens their position), GELU, `fc2`.
///
/// ```swift
/// let y = block.mlp(x, height: 56, width: 56)  // x [B, 3136, C] -> [B, 3136, C]
/// ```
public final class ConvolutionalMLP: Module {
    let fc1: Linear
    let dwconv: DepthwiseConv
    let fc2: Linear

    init(_ dim: Int, hidden: Int, rng: RandomSource) {
        fc1 = Linear(dim, hidden, rng: rng)
        dwconv = DepthwiseConv(hidden, rng: rng)
        fc2 = Linear(hidden, dim, rng: rng)
        super.init()
    }

    /// With `mixing`, the depthwise convolution is group-aware, so that no token
    /// reads a neighbour from the other source image.
    public func callAsFunction(_ x: Tensor, height: Int, width: Int, mixing: MixingMask? = nil) -> Tensor {
        let (h, _, _) = dwconv.dwconv(fc1(x), height: height, width: width, mixing: mixing)
        return fc2(h.gelu())
    }
}

/// A pre-norm transformer block with spatial-reduction attention:
/// `x + attn(norm1(x))`, then `x + mlp(norm2(x))`, each branch with drop path.
///
/// ```swift
/// let block = PVTBlock(dim: 64, heads: 1, srRatio: 8, mlpHidden: 512, dropPathRate: 0.1, rng: rng)
/// let y = block(x, height: 56, width: 56)  // x [B, 3136, 64]
/// ```
public final class PVTBlock: Module {
    public let norm1: LayerNorm
    public let attn: SpatialReductionAttention
    public let norm2: LayerNorm
    public let mlp: ConvolutionalMLP
    public let dropPathRate: Float
    /// The model's generator, for drop path.
    public let rng: RandomSource

    public init(dim: Int, heads: Int, srRatio: Int, mlpHidden: Int, dropPathRate: Float, rng: RandomSource) {
        norm1 = LayerNorm(dim, eps: 1e-6)
        attn = SpatialReductionAttention(dim: dim, heads: heads, srRatio: srRatio, rng: rng)
        norm2 = LayerNorm(dim, eps: 1e-6)
        mlp = ConvolutionalMLP(dim, hidden: mlpHidden, rng: rng)
        self.dropPathRate = dropPathRate
        self.rng = rng
        super.init()
    }

    /// `x` `[B, height * width, C]`; with `mixing`, every token stays within its source image.
    ///
    /// Each branch runs on the samples drop path keeps only, its norm reading them in place
    /// (``dropPathResidual(_:p:training:using:normalizedBy:_:)``): every op of a branch is per sample, and the
    /// mixing mask is one for the whole batch. The same values as the composed form, from the same generator.
    public func callAsFunction(_ x: Tensor, height: Int, width: Int, mixing: MixingMask? = nil) -> Tensor {
        let y = dropPathResidual(x, p: dropPathRate, training: isTraining, using: rng, normalizedBy: norm1) {
            attn($0, height: height, width: width, mixing: mixing)
        }
        return dropPathResidual(y, p: dropPathRate, training: isTraining, using: rng, normalizedBy: norm2) {
            mlp($0, height: height, width: width, mixing: mixing)
        }
    }
}
