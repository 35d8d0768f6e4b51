import MixKit

/// `mask.mode: mask_token`, the SimMIM-style baseline: the patches a mask marks
/// are replaced by one learned token after the patch embedding, and each image
/// is encoded on its own (no partner image, so no attention groups).
extension SwinBackbone: MaskTokenBackbone {
    /// Adds `encoder_mask_token` `[1, 1, embed_dim]`, truncated normal (std 0.02) as SimMIM draws it.
    package func addMaskToken(using rng: RandomSource) {
        guard encoderMaskToken == nil else { return }
        let token = Tensor.zeros([1, 1, config.embedDim]).asParameter()
        Init.truncatedNormal(token, std: 0.02, using: rng)
        encoderMaskToken = token
    }

    package func features(_ images: Tensor, maskedBy mask: MixingMask) -> [FeatureMap] {
        guard let token = encoderMaskToken else {
            preconditionFailure("swin: features(maskedBy:) needs addMaskToken(using:) first (mask.mode: mask_token)")
        }
        return encode(images, attentionGroups: nil) { tokens, height, width in
            let m = mask.tensor(height: height, width: width)
            return tokens * (1 - m) + token * m
        }
    }
}
