import MixKit

/// MixMAE's dual-reconstruction loss: unmix the two decoder branches so every
/// position is predicted by the branch in which it was hidden, then the mean
/// squared error against the (optionally per-patch normalised) pixels. With
/// `dual: false` only the first branch counts: each mixed input reconstructs
/// its first image where it was hidden, and the partner image is left out.
final class MixReconstructionLoss: Module, ReconstructionLoss, UnmixedReconstructionLoss {
    let normPixLoss: Bool
    let dual: Bool

    static let schema: [ParameterSpec] = [
        .bool(
            "norm_pix_loss", default: true,
            doc: "Normalise each target patch by its mean and unbiased variance (+1e-6) before the error."),
        .bool(
            "dual", default: true,
            doc:
                "Reconstruct both images of each mixed input (the paper's dual reconstruction); false: only the first, over the patches where it was hidden (mask.mode: mix)."
        ),
    ]

    var normalizesTargets: Bool { normPixLoss }

    init(_ p: Parameters) {
        normPixLoss = p.bool("norm_pix_loss")
        dual = p.bool("dual")
        super.init()
    }

    /// `[B, C, H, W]` to `[B, (H/p)*(W/p), p*p*C]` in the reference's (p, q, c) order.
    static func patchify(_ images: Tensor, patchSize p: Int) -> Tensor {
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        return images.reshaped([b, c, h / p, p, w / p, p]).permuted([0, 2, 4, 3, 5, 1])
            .reshaped([b, (h / p) * (w / p), p * p * c])
    }

    /// The regression target: patches, normalised per patch when asked.
    func target(_ images: Tensor, patchSize: Int) -> Tensor {
        withNoGrad {
            let t = MixReconstructionLoss.patchify(images, patchSize: patchSize)
            guard normPixLoss else { return t }
            let mean = t.mean(axes: [-1], keepDims: true)
            let variance = t.variance(axes: [-1], unbiased: true, keepDims: true)
            return (t - mean) / (variance + 1e-6).sqrt()
        }
    }

    func loss(images: Tensor, reconstruction: Tensor, mixing: MixingMask, patchSize: Int) -> Tensor {
        let b = images.shape[0]
        precondition(
            reconstruction.rank == 3 && reconstruction.shape[0] == 2 * b,
            "mix-reconstruction: reconstruction must be [2B, L, P] for B = \(b), got \(reconstruction.shape)")
        let t = target(images, patchSize: patchSize)
        guard dual else {
            return MixReconstructionLoss.maskedMean(reconstruction.slice(axis: 0, 0..<b), t, mask: mixing)
        }
        return mseLoss(mixing.unmix(reconstruction, height: mixing.height, width: mixing.width), t)
    }

    /// The loss of the unmixed reconstruction a hidden-token decoder emits: the dual loss is the mean squared
    /// error of all of it; with `dual: false` the masked mean over the tokens hidden in the first branch.
    func loss(images: Tensor, unmixed: Tensor, mixing: MixingMask, patchSize: Int) -> Tensor {
        let b = images.shape[0]
        precondition(
            unmixed.rank == 3 && unmixed.shape[0] == b,
            "mix-reconstruction: the unmixed reconstruction must be [B, L, P] for B = \(b), got \(unmixed.shape)")
        let t = target(images, patchSize: patchSize)
        guard dual else { return MixReconstructionLoss.maskedMean(unmixed, t, mask: mixing) }
        return mseLoss(unmixed, t)
    }

    static let descriptor = ComponentDescriptor(
        id: "mix-reconstruction", kind: .loss, version: "1.0.0", license: "Apache-2.0",
        summary: "MixMAE loss: unmix the two reconstructions, MSE against per-patch normalised pixels",
        parameters: schema,
        validate: { _, _ in ComponentPlan() },
        build: { params, _ in MixReconstructionLoss(params) },
        probe: { module, _, _ in
            let loss = module as! MixReconstructionLoss
            var rng = RandomGenerator(seed: 0)
            let images = Tensor.randomNormal([2, 3, 64, 64], using: &rng)
            let reconstruction = Tensor.randomNormal([4, 4, 32 * 32 * 3], using: &rng).asParameter()
            let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])
            return loss.loss(images: images, reconstruction: reconstruction, mixing: mask, patchSize: 32)
        })
}
