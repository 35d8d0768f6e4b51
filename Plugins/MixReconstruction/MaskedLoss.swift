import MixKit

/// The losses over masked patches only: `dual: false` (each mixed input
/// reconstructs only its first image, where that image was hidden) and
/// `mask.mode: mask_token` (SimMIM: each image's masked patches).
extension MixReconstructionLoss: MaskedReconstructionLoss {
    func maskedLoss(images: Tensor, reconstruction: Tensor, mask: MixingMask, patchSize: Int) -> Tensor {
        let b = images.shape[0]
        precondition(
            reconstruction.rank == 3 && reconstruction.shape[0] == b,
            "mix-reconstruction: reconstruction must be [B, L, P] for B = \(b), got \(reconstruction.shape)")
        return MixReconstructionLoss.maskedMean(
            reconstruction, target(images, patchSize: patchSize), mask: mask)
    }

    /// The squared error of `prediction` against `target` (both `[B, L, P]`) summed
    /// over the tokens where `mask` is 1 and divided by (their element count + 1e-5),
    /// as SimMIM does: exactly 0 when nothing is masked.
    static func maskedMean(_ prediction: Tensor, _ target: Tensor, mask: MixingMask) -> Tensor {
        let m = mask.tensor(height: mask.height, width: mask.width)
        let masked = mask.values.reduce(0) { $0 + Int($1) }
        let elements = Float(prediction.shape[0] * masked * prediction.shape[2])
        return ((prediction - target).square() * m).sum() / (elements + 1e-5)
    }
}
