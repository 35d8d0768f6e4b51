/// The SimMIM-style baseline MixMAE is compared with (`mask.mode: mask_token`):
/// one image per encoder input, its masked patches replaced by a learned
/// [MASK] token at the patch embedding, and the loss over those patches only.
///
/// Each part declares the capability by conforming: a backbone that is not a
/// ``MaskTokenBackbone`` (a decoder that is not a ``SingleImageDecoder``, a
/// loss that is not a ``MaskedReconstructionLoss``) is refused by the host at
/// the recipe key. The mask is the same ``MixingMask`` MixMAE draws (one per
/// batch, on the final-stage grid), read as "1 = this patch is masked".
///
/// ```swift
/// let swin = backbone as! MaskTokenBackbone
/// swin.addMaskToken(using: rng)                                  // before the optimiser sees the parameters
/// let latent = swin.features(images, maskedBy: mask).last!.tensor   // [B, L, C]
/// let pixels = (decoder as! SingleImageDecoder).reconstructEach(latent)   // [B, L, P]
/// let loss = (objective as! MaskedReconstructionLoss)
///     .maskedLoss(images: images, reconstruction: pixels, mask: mask, patchSize: 32)
/// ```
public protocol MaskTokenBackbone: Backbone {
    /// Creates the learned [MASK] token (a trainable tensor named `mask_token`,
    /// drawn from `rng`); the host calls it once, right after building, and only
    /// for `mask.mode: mask_token`, so that MixMAE checkpoints keep the
    /// reference's names. Calling it again does nothing.
    func addMaskToken(using rng: RandomSource)
    /// Feature maps of `images` `[B, C, H, W]` with every patch whose cell of
    /// `mask` is 1 replaced by the [MASK] token after the patch embedding (before
    /// the position embedding); each image attends only to itself.
    func features(_ images: Tensor, maskedBy mask: MixingMask) -> [FeatureMap]
}

/// A reconstruction decoder that can also decode one image per latent
/// (`mask.mode: mask_token`): the encoder already put the [MASK] token in the
/// masked places, so there is no second branch and no decoder mask token.
public protocol SingleImageDecoder: ReconstructionDecoder {
    /// `latent` `[B, L, C]` (final-stage tokens) to pixels `[B, L, P]`.
    func reconstructEach(_ latent: Tensor) -> Tensor
}

/// A reconstruction loss that can also score one reconstruction per image
/// over its masked patches only (SimMIM's loss).
public protocol MaskedReconstructionLoss: ReconstructionLoss {
    /// The loss of `reconstruction` `[B, L, p*p*C]` against `images` `[B, C, H, W]`
    /// over the tokens where `mask` is 1, as SimMIM averages it: the sum over
    /// masked tokens divided by (their count + 1e-5), so that a mask with no 1
    /// (ratio 0) gives exactly 0.
    func maskedLoss(images: Tensor, reconstruction: Tensor, mask: MixingMask, patchSize: Int) -> Tensor
}
