import MixKit

/// `mask.mode: mask_token`, the SimMIM-style baseline MixMAE is compared with:
/// each image is encoded on its own (no partner, no attention groups), and the
/// first stage's tokens of the masked 32x32-pixel units are replaced by one
/// learned token after the patch embedding (and its LayerNorm), as Swin does.
///
/// PVT's first patch embedding is a 7x7 convolution with stride 4 and padding 3,
/// so a visible token at the border of a masked unit would read 3 pixels of it:
/// the very pixels it must reconstruct. The masked pixels are therefore set to 0
/// before the embedding, which is what the group-aware convolution of the mixed
/// path does for the other image's pixels (they count as padding). Nothing of a
/// masked pixel reaches any output; every later op is the plain one.
///
/// ```swift
/// let pvt = try PVTPlugin.descriptor.build(params, context) as! MaskTokenBackbone
/// pvt.addMaskToken(using: rng)
/// let maps = pvt.features(images, maskedBy: MixingMask(height: 2, width: 2, values: [0, 1, 1, 0]))
/// ```
extension PVTBackbone: MaskTokenBackbone {
    /// Adds `encoder_mask_token` `[1, 1, embed_dims[0]]`, truncated normal (std 0.02) as SimMIM draws it.
    func addMaskToken(using rng: RandomSource) {
        guard encoderMaskToken == nil else { return }
        let token = Tensor.zeros([1, 1, config.embedDims[0]]).asParameter()
        Init.truncatedNormal(token, std: 0.02, using: rng)
        encoderMaskToken = token
    }

    func features(_ images: Tensor, maskedBy mask: MixingMask) -> [FeatureMap] {
        guard let token = encoderMaskToken else {
            fatalError("pvt: features(maskedBy:) needs addMaskToken(using:) first (mask.mode: mask_token)")
        }
        checkImages(images)
        checkMaskGrid(mask, height: images.shape[2], width: images.shape[3], use: "[MASK]")
        return encode(
            images, mixing: nil,
            hidden: { pixels, height, width in pixels * (1 - mask.tensor(height: height, width: width)) },
            embedded: { tokens, height, width in
                let m = mask.tensor(height: height, width: width)
                return tokens * (1 - m) + token * m
            })
    }
}
