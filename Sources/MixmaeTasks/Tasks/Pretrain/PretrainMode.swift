import MixKit

/// What a pretraining input is (`mask.mode`).
public enum PretrainMode: String, CaseIterable, Sendable {
    /// MixMAE: image i mixed with image B-1-i under the batch mask, both reconstructed.
    case mix
    /// The SimMIM-style baseline: one image per input, the masked patches replaced by
    /// the backbone's learned [MASK] token, the loss over those patches only.
    case maskToken = "mask_token"
}

/// The parts `mask.mode: mask_token` needs, each checked to declare the capability
/// (``MaskTokenBackbone``, ``SingleImageDecoder``, ``MaskedReconstructionLoss``).
public struct MaskTokenParts {
    public let backbone: MaskTokenBackbone
    public let decoder: SingleImageDecoder
    public let loss: MaskedReconstructionLoss
}

extension PretrainModel {
    /// One SimMIM-style forward pass: each image encoded with its `mask`ed patches
    /// replaced by the [MASK] token, decoded on its own, scored over the masked
    /// patches. The output's reconstruction is `[B, L, P]`.
    public func callAsFunction(_ images: Tensor, maskedBy mask: MixingMask, parts: MaskTokenParts) -> Output {
        let latent = parts.backbone.features(images, maskedBy: mask).last!.tensor
        let reconstruction = parts.decoder.reconstructEach(latent)
        let loss = parts.loss.maskedLoss(
            images: images, reconstruction: reconstruction, mask: mask, patchSize: decoder.patchSize)
        return Output(loss: loss, latent: latent, reconstruction: reconstruction)
    }
}
