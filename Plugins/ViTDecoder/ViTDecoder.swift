import MixKit

/// A plain pre-norm transformer block (timm's `Block`): `norm1`, `attn`, `norm2`, `mlp`.
final class ViTBlock: Module {
    let norm1: LayerNorm
    let attn: MultiHeadAttention
    let norm2: LayerNorm
    let mlp: MLP

    init(dim: Int, heads: Int, mlpRatio: Double, rng: RandomSource) {
        norm1 = LayerNorm(dim)
        attn = MultiHeadAttention(dim: dim, heads: heads, rng: rng)
        norm2 = LayerNorm(dim)
        mlp = MLP(dim, hidden: Int(Double(dim) * mlpRatio), rng: rng)
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { mlpResidual(attentionResidual(x)) }

    /// `x + attn(norm1(x))`: the half of the block that mixes tokens (the residual added in the projection).
    func attentionResidual(_ x: Tensor) -> Tensor { attn(norm1(x), adding: x) }

    /// `x + mlp(norm2(x))`: the half that works on each token alone, any leading shape (the residual added in
    /// the second GEMM).
    func mlpResidual(_ x: Tensor) -> Tensor { mlp(norm2(x), adding: x) }
}

/// MixMAE's decoder, as the reference names it: `decoder_embed`, `mask_token`,
/// `decoder_pos_embed` (fixed sin-cos), `decoder_blocks.i`, `decoder_norm`,
/// `decoder_pred` (to `stride * stride * channels` pixels per token).
final class ViTDecoder: Module, ReconstructionDecoder, HiddenTokenDecoder {
    let decoderEmbed: Linear
    let maskToken: Tensor
    let decoderPosEmbed: Tensor
    let decoderBlocks: [ViTBlock]
    let decoderNorm: LayerNorm
    let decoderPred: Linear
    let patchSize: Int
    let grid: Int

    static let schema: [ParameterSpec] = [
        .int(
            "decoder_dim", default: 512, range: 4...8192,
            doc: "Width of the decoder (a multiple of 4 and of its heads)."),
        .int("decoder_depth", default: 8, range: 0...64, doc: "Transformer blocks in the decoder."),
        .int("decoder_num_heads", default: 16, range: 1...256, doc: "Attention heads in each decoder block."),
        .float("mlp_ratio", default: 4, range: 0.25...16, doc: "Hidden width of the MLP over the decoder width."),
        .int("in_chans", default: 3, range: 1...64, doc: "Channels of the reconstructed pixels."),
    ]

    /// Every check `init` makes, and what the decoder needs, without building it.
    static func plan(_ p: Parameters, context: BuildContext) throws -> ComponentPlan {
        guard let encoder = context.inputs.last else {
            throw ComponentConfigurationError(parameter: "decoder", problem: "needs the encoder's final feature map")
        }
        let dim = p.int("decoder_dim")
        let heads = p.int("decoder_num_heads")
        guard dim % 4 == 0, dim % heads == 0 else {
            throw ComponentConfigurationError(
                parameter: "decoder_dim",
                problem: "\(dim) must be a multiple of 4 (sin-cos table) and of decoder_num_heads \(heads)")
        }
        guard context.imageSize % encoder.stride == 0 else {
            throw ComponentConfigurationError(
                parameter: "img_size",
                problem: "\(context.imageSize) is not divisible by the encoder stride \(encoder.stride)")
        }
        let d = Double(dim)
        let hidden = (d * p.float("mlp_ratio")).rounded(.down)
        let depth = Double(p.int("decoder_depth"))
        let tokens = Double((context.imageSize / encoder.stride) * (context.imageSize / encoder.stride))
        let pixels = Double(encoder.stride * encoder.stride * p.int("in_chans"))
        let parameters =
            Double(encoder.channels) * d + d + depth * (4 * d * d + 2 * d * hidden + 9 * d + hidden) + d * pixels
        let activations = depth * (tokens * (12 * d + 2 * hidden) + 2 * tokens * tokens * Double(heads))
        return ComponentPlan(parameterCount: parameters, activationsPerImage: activations + tokens * pixels)
    }

    init(_ p: Parameters, context: BuildContext) throws {
        _ = try ViTDecoder.plan(p, context: context)
        let encoder = context.inputs.last!
        let dim = p.int("decoder_dim")
        let heads = p.int("decoder_num_heads")
        patchSize = encoder.stride
        grid = context.imageSize / encoder.stride
        let rng = context.rng
        decoderEmbed = Linear(encoder.channels, dim, rng: rng)
        maskToken = Tensor.zeros([1, 1, dim]).asParameter()
        Init.truncatedNormal(maskToken, std: 0.02, using: rng)
        decoderPosEmbed = sinCosPositionEmbedding(dim: dim, gridSize: grid).reshaped([1, grid * grid, dim])
        decoderBlocks = (0..<p.int("decoder_depth")).map { _ in
            ViTBlock(dim: dim, heads: heads, mlpRatio: p.float("mlp_ratio"), rng: rng)
        }
        decoderNorm = LayerNorm(dim)
        decoderPred = Linear(dim, patchSize * patchSize * p.int("in_chans"), rng: rng)
        super.init()
        for (_, m) in namedModules() {
            if let linear = m as? Linear {
                Init.xavierUniform(linear.weight, using: rng)
                if let b = linear.bias { Init.constant(b, 0) }
            }
        }
    }

    func reconstruct(_ latent: Tensor, mixing: MixingMask) -> Tensor {
        var h = branches(latent, mixing: mixing)
        for block in decoderBlocks { h = block(h) }
        return decoderPred(decoderNorm(h))
    }

    /// The same network as ``reconstruct(_:mixing:)`` up to the last block's attention, for both branches;
    /// from there on (the last block's MLP, `decoder_norm`, `decoder_pred`: each token alone) only for the
    /// tokens the loss reads, about half of them, in the unmixed order.
    func reconstructHidden(_ latent: Tensor, mixing: MixingMask) -> Tensor {
        var h = branches(latent, mixing: mixing)
        for block in decoderBlocks.dropLast() { h = block(h) }
        if let last = decoderBlocks.last { h = last.attentionResidual(h) }
        let (pairs, tokens, width) = (h.shape[0], h.shape[1], h.shape[2])
        var hidden = h.reshaped([pairs * tokens, width])
            .indexSelect(axis: 0, indices: mixing.hiddenRows(batch: pairs / 2, height: grid, width: grid))
        if let last = decoderBlocks.last { hidden = last.mlpResidual(hidden) }
        return decoderPred(decoderNorm(hidden)).reshaped([pairs / 2, tokens, -1])
    }

    /// The decoder's input for both branches, `[2B, L, D]`: rows 0..<B keep the mask=0 tokens and put the
    /// mask token where the mask is 1, rows B..<2B the reverse; the position embedding added.
    private func branches(_ latent: Tensor, mixing: MixingMask) -> Tensor {
        precondition(
            latent.rank == 3 && latent.shape[1] == grid * grid,
            "vit-decoder: latent must be [B, \(grid * grid), C], got \(latent.shape)")
        let x = decoderEmbed(latent)
        let m = mixing.tensor(height: grid, width: grid)
        let keepUnmasked = x * (1 - m) + maskToken * m
        let keepMasked = x * m + maskToken * (1 - m)
        return concatenate([keepUnmasked, keepMasked], axis: 0) + decoderPosEmbed
    }

    static let descriptor = ComponentDescriptor(
        id: "vit-decoder", kind: .decoder, version: "1.0.0", license: "Apache-2.0",
        summary:
            "MixMAE dual-branch ViT decoder: mask token, sin-cos embedding, pixel prediction per final-stage token",
        parameters: schema,
        exampleContext: { _ in BuildContext(inputs: [FeatureSpec(stride: 32, channels: 64)], imageSize: 128) },
        validate: { params, context in try ViTDecoder.plan(params, context: context) },
        build: { params, context in try ViTDecoder(params, context: context) },
        probe: { module, _, context in
            let decoder = module as! ViTDecoder
            var rng = RandomGenerator(seed: 0)
            let channels = context.inputs.last!.channels
            let latent = Tensor.randomNormal([2, decoder.grid * decoder.grid, channels], using: &rng)
            let mask = MixingMask(
                height: decoder.grid, width: decoder.grid,
                values: (0..<(decoder.grid * decoder.grid)).map { UInt8($0 % 2) })
            return decoder.reconstruct(latent, mixing: mask).square().mean()
        })
}
