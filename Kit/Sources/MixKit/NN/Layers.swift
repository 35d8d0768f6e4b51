/// A layer that maps one tensor to one tensor, for ``Sequential``.
public protocol UnaryLayer: Module {
    func callAsFunction(_ x: Tensor) -> Tensor
}

/// `y = x Wᵀ + b` over the last axis; `weight` is `[out, in]` as in PyTorch.
///
/// Initialised as PyTorch's `nn.Linear` (uniform in ±1/sqrt(in)) from the
/// model's generator; models usually re-initialise with ``Init``.
///
/// ```swift
/// let fc = Linear(64, 256, rng: rng)
/// let y = fc(x)   // [..., 64] -> [..., 256]
/// ```
public final class Linear: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: RandomSource) {
        let bound = 1 / Float(max(inFeatures, 1)).squareRoot()
        weight = Tensor.randomUniform([outFeatures, inFeatures], low: -bound, high: bound, using: rng)
            .asParameter()
        self.bias =
            bias ? Tensor.randomUniform([outFeatures], low: -bound, high: bound, using: rng).asParameter() : nil
        super.init()
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }

    /// `residual + self(x)` in one op (``linear(_:weight:bias:adding:)``): the residual is added as each block of
    /// the output is computed.
    ///
    /// ```swift
    /// let h = proj(attended, adding: x)   // x + proj(attended)
    /// ```
    public func callAsFunction(_ x: Tensor, adding residual: Tensor) -> Tensor {
        linear(x, weight: weight, bias: bias, adding: residual)
    }
}

/// Layer normalisation over the last axis with a learned scale and shift.
///
/// ```swift
/// let norm = LayerNorm(96)
/// let y = norm(x)
/// ```
public final class LayerNorm: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = Tensor.ones([dim]).asParameter()
        bias = Tensor.zeros([dim]).asParameter()
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }

    /// The norm of the samples `samples` of `x` (first axis), read in place: see
    /// ``layerNorm(_:samples:weight:bias:eps:)``.
    ///
    /// ```swift
    /// let normalized = norm(x, samples: [0, 2])   // [2, L, C] from x [B, L, C]
    /// ```
    public func callAsFunction(_ x: Tensor, samples: [Int]) -> Tensor {
        layerNorm(x, samples: samples, weight: weight, bias: bias, eps: eps)
    }
}

/// Two linear layers with GELU between them (timm's `Mlp`): `fc1`, `fc2`.
/// Its dropout draws from the generator it was built with.
///
/// ```swift
/// let mlp = MLP(96, hidden: 384, rng: rng)
/// ```
public final class MLP: Module, UnaryLayer {
    public let fc1: Linear
    public let fc2: Linear
    public let dropRate: Float
    /// The model's generator, for the dropout masks.
    public let rng: RandomSource

    public init(_ dim: Int, hidden: Int, out: Int? = nil, dropRate: Float = 0, rng: RandomSource) {
        fc1 = Linear(dim, hidden, rng: rng)
        fc2 = Linear(hidden, out ?? dim, rng: rng)
        self.dropRate = dropRate
        self.rng = rng
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x, residual: nil) }

    /// `residual + self(x)`: with dropout off (rate 0, or evaluating) one ``mlp(_:fc1Weight:fc1Bias:fc2Weight:fc2Bias:adding:)``
    /// op, GELU and the residual applied as the GEMMs compute each block.
    ///
    /// ```swift
    /// let out = mlp(norm2(h), adding: h)   // h + mlp(norm2(h))
    /// ```
    public func callAsFunction(_ x: Tensor, adding residual: Tensor) -> Tensor { forward(x, residual: residual) }

    private func forward(_ x: Tensor, residual: Tensor?) -> Tensor {
        guard dropRate > 0 && isTraining else {
            return mlp(
                x, fc1Weight: fc1.weight, fc1Bias: fc1.bias, fc2Weight: fc2.weight, fc2Bias: fc2.bias,
                adding: residual)
        }
        var h = fc1(x).gelu()
        h = dropout(h, p: dropRate, training: isTraining, using: rng)
        let y = dropout(fc2(h), p: dropRate, training: isTraining, using: rng)
        return residual.map { $0 + y } ?? y
    }
}

/// Image to patch tokens: a convolution whose kernel equals its stride, done
/// as one GEMM over flattened patches, then an optional LayerNorm.
/// `proj.weight` is `[dim, channels, patch, patch]` as PyTorch's `Conv2d` stores it.
///
/// ```swift
/// let embed = PatchEmbed(patchSize: 4, inChannels: 3, dim: 96, rng: rng)
/// let tokens = embed(images)   // [B, 3, H, W] -> [B, (H/4)*(W/4), 96]
/// ```
public final class PatchEmbed: Module, UnaryLayer {
    public final class Projection: Module {
        public let weight: Tensor
        public let bias: Tensor

        init(dim: Int, inChannels: Int, patchSize: Int, rng: RandomSource) {
            let fanIn = inChannels * patchSize * patchSize
            let bound = 1 / Float(fanIn).squareRoot()
            weight = Tensor.randomUniform(
                [dim, inChannels, patchSize, patchSize], low: -bound, high: bound, using: rng
            )
            .asParameter()
            bias = Tensor.randomUniform([dim], low: -bound, high: bound, using: rng).asParameter()
        }
    }

    public let proj: Projection
    public let norm: LayerNorm?
    public let patchSize: Int

    public init(patchSize: Int, inChannels: Int, dim: Int, normalize: Bool = true, rng: RandomSource) {
        proj = Projection(dim: dim, inChannels: inChannels, patchSize: patchSize, rng: rng)
        norm = normalize ? LayerNorm(dim) : nil
        self.patchSize = patchSize
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4, "PatchEmbed: input must be [B, C, H, W], got \(x.shape)")
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let p = patchSize
        precondition(h % p == 0 && w % p == 0, "PatchEmbed: image \(h)x\(w) is not divisible by the patch size \(p)")
        let patches = x.reshaped([b, c, h / p, p, w / p, p]).permuted([0, 2, 4, 1, 3, 5])
            .reshaped([b, (h / p) * (w / p), c * p * p])
        let tokens = linear(patches, weight: proj.weight.reshaped([proj.weight.shape[0], c * p * p]), bias: proj.bias)
        return norm.map { $0(tokens) } ?? tokens
    }
}

/// Multi-head self-attention (timm's `Attention`): `qkv`, `proj`, with an
/// optional additive bias per head and a token grouping that keeps attention
/// within each group (see ``attentionSoftmax(_:bias:groups:period:)``).
///
/// ```swift
/// let attn = MultiHeadAttention(dim: 96, heads: 3, rng: rng)
/// let y = attn(x)                                   // [B, N, 96]
/// let z = attn(x, bias: relBias, groups: g, period: windowsPerImage)
/// let s = attn(sortedX, bias: sortedBias, spans: spans)   // tokens sorted by group in each window
/// ```
open class MultiHeadAttention: Module {
    public let qkv: Linear
    public let proj: Linear
    public let heads: Int
    public let scale: Float

    public init(dim: Int, heads: Int, qkvBias: Bool = true, rng: RandomSource) {
        precondition(dim % heads == 0, "MultiHeadAttention: dim \(dim) is not divisible by \(heads) heads")
        qkv = Linear(dim, dim * 3, bias: qkvBias, rng: rng)
        proj = Linear(dim, dim, rng: rng)
        self.heads = heads
        self.scale = 1 / Float(dim / heads).squareRoot()
        super.init()
    }

    public func callAsFunction(_ x: Tensor, bias: Tensor? = nil, groups: [UInt8]? = nil, period: Int = 1) -> Tensor {
        proj(headOutputs(of: x, bias: bias, groups: groups, period: period))
    }

    /// `residual + self(x, ...)`, the residual added as the output projection computes each block
    /// (``Linear/callAsFunction(_:adding:)``); `residual` is `[B, N, C]` like the output.
    ///
    /// ```swift
    /// let h = attn(norm1(x), bias: relBias, adding: x)   // x + attn(norm1(x))
    /// ```
    public final func callAsFunction(
        _ x: Tensor, bias: Tensor? = nil, groups: [UInt8]? = nil, period: Int = 1, adding residual: Tensor
    ) -> Tensor {
        proj(headOutputs(of: x, bias: bias, groups: groups, period: period), adding: residual)
    }

    /// Attention within each group's run of tokens of windows sorted by group
    /// (see ``multiHeadAttention(qkv:heads:scale:bias:spans:)``); `bias` is
    /// `[heads, N, N]` or `[spans.period, heads, N, N]`.
    public func callAsFunction(_ x: Tensor, bias: Tensor? = nil, spans: AttentionSpans) -> Tensor {
        proj(headOutputs(of: x, bias: bias, spans: spans))
    }

    /// `residual + self(x, bias:, spans:)`, the residual added as the output projection computes each block.
    ///
    /// ```swift
    /// let h = attn(sortedX, bias: sortedBias, spans: spans, adding: shortcut)
    /// ```
    public final func callAsFunction(_ x: Tensor, bias: Tensor? = nil, spans: AttentionSpans, adding residual: Tensor)
        -> Tensor
    {
        proj(headOutputs(of: x, bias: bias, spans: spans), adding: residual)
    }

    /// The heads' outputs side by side, before the output projection.
    private final func headOutputs(of x: Tensor, bias: Tensor?, groups: [UInt8]?, period: Int) -> Tensor {
        precondition(x.rank == 3, "MultiHeadAttention: input must be [B, N, C], got \(x.shape)")
        return multiHeadAttention(qkv: qkv(x), heads: heads, scale: scale, bias: bias, groups: groups, period: period)
    }

    /// The heads' outputs within each group's run of tokens, before the output projection.
    private final func headOutputs(of x: Tensor, bias: Tensor?, spans: AttentionSpans) -> Tensor {
        precondition(x.rank == 3, "MultiHeadAttention: input must be [B, N, C], got \(x.shape)")
        return multiHeadAttention(qkv: qkv(x), heads: heads, scale: scale, bias: bias, spans: spans)
    }
}

/// Layers applied one after another.
///
/// ```swift
/// let head = Sequential([Linear(96, 96, rng: rng), Linear(96, 10, rng: rng)])
/// ```
public final class Sequential: Module, UnaryLayer {
    public let layers: [Module]

    public init(_ layers: [UnaryLayer]) {
        self.layers = layers
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        layers.reduce(x) { h, layer in (layer as! UnaryLayer)(h) }
    }
}
