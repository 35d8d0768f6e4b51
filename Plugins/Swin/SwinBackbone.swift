import MixKit

/// The MixMAE encoder: a Swin transformer without shifted windows, with a fixed
/// sin-cos absolute position embedding and large windows, as the reference
/// MixMIM code builds it. Parameter names follow the reference
/// (`patch_embed.proj.weight`, `layers.0.blocks.0.attn.qkv.weight`,
/// `layers.0.downsample.reduction.weight`, `norm.weight`, ...).
package final class SwinBackbone: Module, Backbone {
    let patchEmbed: PatchEmbed
    /// Fixed sin-cos table `[1, L, C]` (a buffer: saved, not trained).
    let absolutePosEmbed: Tensor
    package let layers: [SwinStage]
    let norm: LayerNorm
    /// LayerNorms for outputs of earlier stages (dense tasks), `out_norms.i` for stage i.
    let outNorms: [LayerNorm]
    /// The learned [MASK] token `[1, 1, C]` of `mask.mode: mask_token` (SimMIM), added by
    /// ``addMaskToken(using:)`` only for that mode; `encoder_mask_token` in checkpoints,
    /// apart from the decoder's `mask_token`.
    package internal(set) var encoderMaskToken: Tensor?

    package let config: SwinConfig
    package let capabilities: BackboneCapabilities

    /// Draws the initial weights from `rng` as the official `models_mixmim.py` and
    /// `models_mixmim_ft.py` do (`_init_weights`): every Linear xavier-uniform with
    /// bias 0, every LayerNorm weight 1 and bias 0, the relative-position tables
    /// truncated normal (std 0.02), and the patch embedding's convolution left at
    /// PyTorch's `Conv2d` default (uniform in ±1/sqrt(fan_in), weight and bias), as
    /// `apply(_init_weights)` does not touch it. Drop path draws from `rng` in training.
    package init(_ config: SwinConfig, rng: RandomSource) {
        self.config = config
        patchEmbed = PatchEmbed(
            patchSize: config.patchSize, inChannels: config.inChannels, dim: config.embedDim, rng: rng)
        let grid = config.imageSize / config.patchSize
        absolutePosEmbed = sinCosPositionEmbedding(dim: config.embedDim, gridSize: grid).reshaped([
            1, grid * grid, config.embedDim,
        ])
        let totalDepth = config.depths.reduce(0, +)
        let rates = (0..<totalDepth).map { i in
            totalDepth > 1 ? Float(config.dropPathRate) * Float(i) / Float(totalDepth - 1) : 0
        }
        var stages: [SwinStage] = []
        var blockIndex = 0
        for s in 0..<config.stageCount {
            let dim = config.embedDim << s
            let window = config.window(stage: s)
            var blocks: [SwinBlock] = []
            for _ in 0..<config.depths[s] {
                blocks.append(
                    SwinBlock(
                        dim: dim, heads: config.numHeads[s], window: window, mlpRatio: config.mlpRatio,
                        qkvBias: config.qkvBias, dropPath: rates[blockIndex], rng: rng))
                blockIndex += 1
            }
            let merge = s < config.stageCount - 1 ? PatchMerging(dim: dim, rng: rng) : nil
            stages.append(SwinStage(blocks: blocks, downsample: merge, window: window))
        }
        layers = stages
        norm = LayerNorm(config.embedDim << (config.stageCount - 1))
        outNorms =
            config.outIndices.contains(where: { $0 < config.stageCount - 1 })
            ? (0..<(config.stageCount - 1)).map { LayerNorm(config.embedDim << $0) } : []
        capabilities = config.capabilities
        super.init()
        for (_, m) in namedModules() {
            if let linear = m as? Linear {
                Init.xavierUniform(linear.weight, using: rng)
                if let b = linear.bias { Init.constant(b, 0) }
            }
        }
    }

    /// Feature maps for images `[B, C, H, W]` of any size: the patch embedding
    /// pads to a multiple of the patch size, each stage pads its grid to whole
    /// windows (``GridPadding``), patch merging pads odd grids. The position table
    /// (defined for `img_size`) is resized bicubically when the grid differs.
    /// Mixing needs a grid that halves exactly at every stage (pretraining sizes).
    package func features(_ images: Tensor, mixing: MixingMask?) -> [FeatureMap] {
        let attentionGroups = config.mixAttention == .masked ? mixing : nil
        return encode(images, attentionGroups: attentionGroups) { tokens, height, width in
            mixing.map { $0.mix(tokens, height: height, width: width) } ?? tokens
        }
    }

    /// The encoder: patch embedding, `embedded` (mixing or masking the tokens
    /// `[B, h*w, C]` of the stage-0 grid), position table, stages. Attention is
    /// kept within each group of `attentionGroups` (upsampled to every stage), if given.
    func encode(
        _ images: Tensor, attentionGroups: MixingMask?, embedded: (Tensor, Int, Int) -> Tensor
    ) -> [FeatureMap] {
        precondition(
            images.rank == 4 && images.shape[1] == config.inChannels,
            "swin: images must be [B, \(config.inChannels), H, W], got \(images.shape)")
        let patch = config.patchSize
        var height = (images.shape[2] + patch - 1) / patch
        var width = (images.shape[3] + patch - 1) / patch
        var x = embedded(patchEmbed(padImages(images, toMultipleOf: patch)), height, width)
        x = x + resizedPositionTable(absolutePosEmbed, side: config.gridSide(stage: 0), height: height, width: width)
        var outputs: [FeatureMap] = []
        for (s, stage) in layers.enumerated() {
            let groups = attentionGroups?.upsampled(height: height, width: width)
            let (features, next) = stage(x, height: height, width: width, groups: groups)
            if config.outIndices.contains(s) {
                let normed = s == config.stageCount - 1 ? norm(features) : outNorms[s](features)
                outputs.append(FeatureMap(tensor: normed, height: height, width: width, stride: patch << s))
            }
            x = next
            (height, width) = ((height + 1) / 2, (width + 1) / 2)
        }
        return outputs
    }

    /// The official MixMIM numbering (`util/lr_decay.py get_layer_id_for_mixmim`):
    /// patch embedding and position table 0, block j of stage i
    /// `sum(depths[..<i]) + j + 1`, the patch merging after stage i
    /// `sum(depths[...i]) + 1`, everything else (final norm, head) `sum(depths)`.
    /// With ``layerCount`` `sum(depths) + 2`, layer-wise decay gives the head and
    /// the final norm `decay^1`, as the reference does.
    package func layerIndex(ofParameter name: String) -> Int {
        let parts = name.split(separator: ".")
        let total = config.depths.reduce(0, +)
        if name.hasPrefix("patch_embed") || name.hasPrefix("absolute_pos_embed") || name == "mask_token"
            || name == "encoder_mask_token"
        {
            return 0
        }
        if parts.count > 3, parts[0] == "layers", let stage = Int(parts[1]), config.depths.indices.contains(stage) {
            if parts[2] == "downsample" { return config.depths[...stage].reduce(0, +) + 1 }
            if parts[2] == "blocks", let block = Int(parts[3]) {
                return config.depths[..<stage].reduce(0, +) + block + 1
            }
        }
        return total
    }

    package var layerCount: Int { config.depths.reduce(0, +) + 2 }
}
