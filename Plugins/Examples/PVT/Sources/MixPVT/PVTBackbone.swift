import MixKit

/// A PVT v2 backbone (Wang et al. 2021): four stages, each an overlapping patch
/// embedding, blocks of spatial-reduction attention and convolutional MLP, and
/// a LayerNorm; feature maps at strides 4, 8, 16 and 32.
///
/// Parameter names follow the reference implementation (`patch_embed1.proj.weight`,
/// `block2.0.attn.sr.weight`, `norm4.bias`, ...), so its checkpoints load as they are.
///
/// ```swift
/// let pvt = PVTBackbone(try PVTConfig(Parameters(defaultsOf: PVTConfig.schema)), rng: RandomSource(seed: 0))
/// let maps = pvt.features(images, mixing: nil)   // 4 maps: 56x56x32, 28x28x64, 14x14x160, 7x7x256
/// let mixed = pvt.features(images, mixing: MixingMask(height: 7, width: 7, values: mask))  // MixMAE
/// ```
final class PVTBackbone: Module, Backbone {
    let patchEmbed1: OverlapPatchEmbed
    let patchEmbed2: OverlapPatchEmbed
    let patchEmbed3: OverlapPatchEmbed
    let patchEmbed4: OverlapPatchEmbed
    let block1: [PVTBlock]
    let block2: [PVTBlock]
    let block3: [PVTBlock]
    let block4: [PVTBlock]
    let norm1: LayerNorm
    let norm2: LayerNorm
    let norm3: LayerNorm
    let norm4: LayerNorm
    /// The learned [MASK] token `[1, 1, embed_dims[0]]` of `mask.mode: mask_token`
    /// (SimMIM), added by ``addMaskToken(using:)`` only for that mode, so that
    /// MixMAE checkpoints keep the reference's names; `encoder_mask_token` in
    /// checkpoints, apart from the decoder's `mask_token`.
    internal(set) var encoderMaskToken: Tensor?
    let config: PVTConfig

    /// Draws the initial weights from `rng` (the model's generator), and drop path from it in training.
    init(_ config: PVTConfig, rng: RandomSource) {
        self.config = config
        let dims = config.embedDims
        let totalDepth = config.depths.reduce(0, +)
        let rates = (0..<totalDepth).map { Float(config.dropPathRate) * Float($0) / Float(max(totalDepth - 1, 1)) }
        var embeds: [OverlapPatchEmbed] = []
        var stages: [[PVTBlock]] = []
        var first = 0
        for s in 0..<PVTConfig.stageCount {
            embeds.append(
                OverlapPatchEmbed(
                    inChannels: s == 0 ? config.inChannels : dims[s - 1], dim: dims[s], kernel: s == 0 ? 7 : 3,
                    stride: s == 0 ? 4 : 2, rng: rng))
            stages.append(
                (0..<config.depths[s]).map { j in
                    PVTBlock(
                        dim: dims[s], heads: config.numHeads[s], srRatio: config.srRatios[s],
                        mlpHidden: config.mlpHidden(stage: s), dropPathRate: rates[first + j], rng: rng)
                })
            first += config.depths[s]
        }
        (patchEmbed1, patchEmbed2, patchEmbed3, patchEmbed4) = (embeds[0], embeds[1], embeds[2], embeds[3])
        (block1, block2, block3, block4) = (stages[0], stages[1], stages[2], stages[3])
        (norm1, norm2, norm3, norm4) = (
            LayerNorm(dims[0], eps: 1e-6), LayerNorm(dims[1], eps: 1e-6), LayerNorm(dims[2], eps: 1e-6),
            LayerNorm(dims[3], eps: 1e-6)
        )
        super.init()
        for (_, module) in namedModules() {
            if let linear = module as? Linear {
                Init.truncatedNormal(linear.weight, std: 0.02, using: rng)
                if let bias = linear.bias { bias.fill(0) }
            }
        }
    }

    var capabilities: BackboneCapabilities { config.capabilities }

    /// Feature maps for `images` `[B, C, H, W]`, one per `out_indices` entry.
    ///
    /// With `mixing` (MixMAE pretraining), image i is mixed with image B-1-i after
    /// the first patch embedding, and no information crosses between the two
    /// source images of a mixed token map: the overlapping patch embeddings and
    /// the MLP's depthwise convolution are group-aware (a token reads only
    /// neighbours of its own image), and attention masks the other image's keys.
    func features(_ images: Tensor, mixing: MixingMask?) -> [FeatureMap] {
        checkImages(images)
        if let mixing {
            checkMixing(mixing, height: images.shape[2], width: images.shape[3])
            return encode(images, mixing: mixing) { tokens, h, w in mixing.mix(tokens, height: h, width: w) }
        }
        return encode(images, mixing: nil) { tokens, _, _ in tokens }
    }

    /// The encoder: the pixel tokens `[B, H*W, C]` through `hidden` (which may zero
    /// pixels the model must not see), the stages, and `embedded` on the first
    /// stage's tokens (mixing or masking them); `mixing` makes every later op
    /// group-aware (``features(_:mixing:)``).
    func encode(
        _ images: Tensor, mixing: MixingMask?, hidden: (Tensor, Int, Int) -> Tensor = { x, _, _ in x },
        embedded: (Tensor, Int, Int) -> Tensor
    ) -> [FeatureMap] {
        checkImages(images)
        let (b, c, height, width) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        var x = hidden(images.permuted([0, 2, 3, 1]).reshaped([b, height * width, c]), height, width)
        var (h, w) = (height, width)
        let embeds = [patchEmbed1, patchEmbed2, patchEmbed3, patchEmbed4]
        let stages = [block1, block2, block3, block4]
        let norms = [norm1, norm2, norm3, norm4]
        var maps: [Int: FeatureMap] = [:]
        for s in 0..<PVTConfig.stageCount {
            (x, h, w) = embeds[s](x, height: h, width: w, mixing: mixing)
            if s == 0 { x = embedded(x, h, w) }
            for block in stages[s] { x = block(x, height: h, width: w, mixing: mixing) }
            x = norms[s](x)
            if config.outIndices.contains(s) {
                maps[s] = FeatureMap(tensor: x, height: h, width: w, stride: PVTConfig.stride(stage: s))
            }
        }
        return config.outIndices.map { maps[$0]! }
    }

    /// Stops with a clear message when the host hands over a mask this backbone
    /// cannot honour (it never should: ``capabilities`` says what is supported).
    private func checkMixing(_ mixing: MixingMask, height: Int, width: Int) {
        // fatalError, not precondition: its message is printed in optimised builds too.
        if !config.mixing {
            fatalError(
                "pvt: this backbone was built with mixing: false (capabilities.supportsMixing is false); "
                    + "the host must not pass a mixing mask to it")
        }
        checkMaskGrid(mixing, height: height, width: width, use: "mixing")
    }

    func checkImages(_ images: Tensor) {
        precondition(
            images.rank == 4 && images.shape[1] == config.inChannels,
            "pvt: expected images [B, \(config.inChannels), H, W], got \(images.shape)")
    }

    /// Stops with a clear message when `mask` is not one cell per 32x32-pixel unit
    /// of `height` x `width` images.
    func checkMaskGrid(_ mask: MixingMask, height: Int, width: Int, use: String) {
        let unit = PVTConfig.maskUnit
        if height % unit != 0 || width % unit != 0 || mask.height != height / unit || mask.width != width / unit {
            fatalError(
                "pvt: a \(mask.height)x\(mask.width) \(use) mask does not cover \(height)x\(width) images "
                    + "in \(unit)x\(unit)-pixel units (expected \(height / unit)x\(width / unit))")
        }
    }

    /// Depth for layer-wise learning-rate decay: 0 for the first patch
    /// embedding (and the [MASK] token), 1... for the blocks in order (a stage's patch embedding
    /// shares its first block's index, a stage's norm its last block's), and
    /// the last index for the final norm.
    func layerIndex(ofParameter name: String) -> Int {
        if name == "encoder_mask_token" { return 0 }
        let parts = name.split(separator: ".")
        guard let head = parts.first else { return layerCount - 1 }
        let stage = head.last.flatMap { Int(String($0)) }.map { $0 - 1 }
        guard let s = stage, (0..<PVTConfig.stageCount).contains(s) else { return layerCount - 1 }
        let before = config.depths[..<s].reduce(0, +)
        if head.hasPrefix("patch_embed") { return s == 0 ? 0 : 1 + before }
        if head.hasPrefix("block"), parts.count > 1, let j = Int(parts[1]) { return 1 + before + j }
        if head.hasPrefix("norm") { return s == PVTConfig.stageCount - 1 ? layerCount - 1 : before + config.depths[s] }
        return layerCount - 1
    }

    var layerCount: Int { config.depths.reduce(0, +) + 2 }
}
