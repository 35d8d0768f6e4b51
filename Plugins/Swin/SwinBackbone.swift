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

    package let config: SwinConfig
    package let capabilities: BackboneCapabilities

    /// Draws the initial weights from `rng`, and drop path from it in training.
    package init(_ config: SwinConfig, rng: RandomSource) {
        self.config = config
        patchEmbed = PatchEmbed(
            patchSize: config.patchSize, inChannels: config.inChannels, dim: config.embedDim, rng: rng)
        Init.xavierUniform(patchEmbed.proj.weight, using: rng)
        Init.constant(patchEmbed.proj.bias, 0)
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
                Init.truncatedNormal(linear.weight, std: 0.02, using: rng)
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
        precondition(
            images.rank == 4 && images.shape[1] == config.inChannels,
            "swin: images must be [B, \(config.inChannels), H, W], got \(images.shape)")
        let patch = config.patchSize
        var height = (images.shape[2] + patch - 1) / patch
        var width = (images.shape[3] + patch - 1) / patch
        var x = patchEmbed(padImages(images, toMultipleOf: patch))
        if let mixing { x = mixing.mix(x, height: height, width: width) }
        x = x + resizedPositionTable(absolutePosEmbed, side: config.gridSide(stage: 0), height: height, width: width)
        var outputs: [FeatureMap] = []
        for (s, stage) in layers.enumerated() {
            let groups = mixing?.upsampled(height: height, width: width)
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

    /// SimMIM's numbering for Swin: patch embedding and mask token 0, block j of
    /// stage i `sum(depths[..<i]) + j + 1`, the patch merging after stage i
    /// `sum(depths[...i])`, everything after the last stage `sum(depths) + 1`.
    package func layerIndex(ofParameter name: String) -> Int {
        let parts = name.split(separator: ".")
        if name.hasPrefix("patch_embed") || name.hasPrefix("absolute_pos_embed") || name == "mask_token" { return 0 }
        if parts.count > 3, parts[0] == "layers", let stage = Int(parts[1]) {
            if parts[2] == "downsample" { return config.depths[...stage].reduce(0, +) }
            if parts[2] == "blocks", let block = Int(parts[3]) {
                return config.depths[..<stage].reduce(0, +) + block + 1
            }
        }
        return layerCount - 1
    }

    package var layerCount: Int { config.depths.reduce(0, +) + 2 }
}
