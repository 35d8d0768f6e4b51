extension OpsBenchmark {
    /// One window-attention layer of the benchmark models: `windows` windows of `tokens` tokens, `heads` heads of
    /// `headDim` dimensions, with a relative position bias as Swin adds it.
    public struct AttentionShape: Sendable {
        public var name: String
        public var windows: Int
        public var tokens: Int
        public var heads: Int
        public var headDim: Int

        public init(name: String, windows: Int, tokens: Int, heads: Int, headDim: Int = 32) {
            self.name = name
            self.windows = windows
            self.tokens = tokens
            self.heads = heads
            self.headDim = headDim
        }

        /// Floating-point operations of the forward pass's two products per head, `Q Kᵀ` and `P V` (2 per
        /// multiply-add); the backward pass has four, twice as many.
        public var forwardFLOPs: Double {
            4 * Double(windows * heads) * Double(tokens * tokens) * Double(headDim)
        }
    }

    /// The benchmark configurations' window shapes: tiny224's first stage (14x14 windows) and last (7x7, where a
    /// window's 49 rows are not a whole number of the kernels' register blocks), small128's first (8x8).
    public static let attentionShapes: [AttentionShape] = [
        AttentionShape(name: "tiny224 s0 (14x14 windows)", windows: 128, tokens: 196, heads: 3),
        AttentionShape(name: "tiny224 s3 (7x7 windows)", windows: 8, tokens: 49, heads: 24),
        AttentionShape(name: "small128 s0 (8x8 windows)", windows: 256, tokens: 64, heads: 2),
    ]

    /// The attention op's time at one shape, forward as training runs it (probabilities kept for backward) and
    /// its own backward kernel (from ``Profiler``, without the autograd engine around it).
    public struct AttentionResult: Sendable {
        public var shape: AttentionShape
        public var forwardSeconds: Double
        public var backwardSeconds: Double
        /// ``AttentionShape/forwardFLOPs`` per second, in billions.
        public var forwardGFLOPS: Double { shape.forwardFLOPs / forwardSeconds * 1e-9 }
        /// The backward pass's four products per second, in billions.
        public var backwardGFLOPS: Double { 2 * shape.forwardFLOPs / backwardSeconds * 1e-9 }
    }

    /// Times ``multiHeadAttention(qkv:heads:scale:bias:groups:period:)`` on a `[windows, tokens, 3C]` qkv with a
    /// `[heads, tokens, tokens]` bias, both recording gradients: the best of `repetitions` forward passes and of
    /// `repetitions` backward passes, each after a warm-up.
    ///
    /// ```swift
    /// let r = OpsBenchmark.attention(OpsBenchmark.attentionShapes[0])
    /// print(r.forwardGFLOPS, r.backwardGFLOPS)
    /// ```
    public static func attention(_ shape: AttentionShape, repetitions: Int = 5) -> AttentionResult {
        var rng = RandomGenerator(seed: 4)
        let channels = shape.heads * shape.headDim
        let qkv = Tensor.randomNormal([shape.windows, shape.tokens, 3 * channels], using: &rng).asParameter()
        let bias = Tensor.randomNormal([shape.heads, shape.tokens, shape.tokens], using: &rng).asParameter()
        let seed = Tensor.randomNormal([shape.windows, shape.tokens, channels], using: &rng)
        let scale = 1 / Float(shape.headDim).squareRoot()
        let attend = { multiHeadAttention(qkv: qkv, heads: shape.heads, scale: scale, bias: bias) }
        let forward = bestTime(repetitions: repetitions) { _ = attend() }
        let backward = bestBackwardTime(
            of: "attention", repetitions: repetitions, seed: seed, clearing: [qkv, bias], forward: attend)
        return AttentionResult(shape: shape, forwardSeconds: forward, backwardSeconds: backward)
    }
}
