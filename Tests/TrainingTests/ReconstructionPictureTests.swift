import MixKit
import MixmaeData
import MixmaeTasks
import Testing

/// The pretraining picture reads each token from the branch in which it was hidden, whether the output holds
/// both branches `[2B, L, P]` (`mixmae forward`) or the unmixed reconstruction `[B, L, P]` (training's
/// hidden-token path): the two give the same picture.
@Suite struct ReconstructionPictureTests {
    func picture(_ images: Tensor, _ reconstruction: Tensor, _ mixing: MixingMask) throws -> Image {
        let output = PretrainModel.Output(
            loss: Tensor(scalar: 0), latent: Tensor(scalar: 0), reconstruction: reconstruction)
        return try ReconstructionPicture(
            images: images, output: output, mixing: mixing, patchSize: 32, normalizedTargets: true,
            normalization: .imagenet
        ).image
    }

    @Test func bothBranchesAndTheUnmixedReconstructionDrawTheSamePicture() throws {
        var rng = RandomGenerator(seed: 3)
        let images = Tensor.randomNormal([2, 3, 64, 64], using: &rng)
        let branches = Tensor.randomNormal([4, 4, 32 * 32 * 3], using: &rng)
        let mixing = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])
        let fromBranches = try picture(images, branches, mixing)
        #expect(fromBranches == (try picture(images, mixing.unmix(branches, height: 2, width: 2), mixing)))
        // The tokens not hidden in a branch are not drawn from it: another unmixing (the mask inverted) differs.
        let inverted = MixingMask(height: 2, width: 2, values: [1, 0, 0, 1])
        #expect(fromBranches != (try picture(images, inverted.unmix(branches, height: 2, width: 2), mixing)))
    }
}
