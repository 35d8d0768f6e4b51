import MixKit
import MixmaePluginHost
import TestSupport
import Testing

/// Training's cheaper path (SDK 2.15): the built `vit-decoder` decodes only the tokens the loss reads and
/// `mix-reconstruction` scores them, with the same values, loss and gradients as the dual-branch path.
extension InProcess.ReconstructionAblationTests {
    /// `[4, 4, 16]` final-stage tokens of four 64-pixel images (a 2x2 grid) and the images.
    func hiddenTokenData() -> (latent: Tensor, images: Tensor) {
        var rng = RandomGenerator(seed: 11)
        return (
            Tensor.randomNormal([4, 4, 16], using: &rng).asParameter(),
            Tensor.randomNormal([4, 3, 64, 64], using: &rng)
        )
    }

    func decoder(depth: Int) throws -> Module {
        let context = BuildContext(inputs: [FeatureSpec(stride: 32, channels: 16)], imageSize: 64)
        return try build(
            "vit-decoder", ["decoder_dim": .int(16), "decoder_depth": .int(depth), "decoder_num_heads": .int(2)],
            context)
    }

    /// The unmixed hidden-token decoding is the dual-branch decoding unmixed, for no block, one and two (the
    /// last block is split at its attention), and masks with both branches, all 1 and all 0.
    @Test(arguments: [0, 1, 2])
    func hiddenTokenDecodingIsTheDualBranchDecodingUnmixed(depth: Int) throws {
        let module = try decoder(depth: depth)
        let decoder = try #require(module as? HiddenTokenDecoder)
        let (latent, _) = hiddenTokenData()
        for values in [[1, 0, 0, 1], [1, 1, 1, 1], [0, 0, 0, 0]] as [[UInt8]] {
            let mask = MixingMask(height: 2, width: 2, values: values)
            let hidden = decoder.reconstructHidden(latent, mixing: mask)
            let whole = mask.unmix(decoder.reconstruct(latent, mixing: mask), height: 2, width: 2)
            #expect(hidden.shape == [4, 4, 32 * 32 * 3])
            let worst = zip(hidden.scalars, whole.scalars).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-5, "depth \(depth), mask \(values): \(worst)")
        }
    }

    /// The loss and every gradient (each decoder parameter's, the latent's) agree between the two paths,
    /// for the dual loss and for `dual: false`, with per-patch normalised targets.
    @Test(arguments: [true, false])
    func theHiddenTokenPathHasTheDualBranchLossAndGradients(dual: Bool) throws {
        let module = try decoder(depth: 2)
        let decoder = try #require(module as? HiddenTokenDecoder)
        let loss = try #require(
            try build("mix-reconstruction", ["dual": .bool(dual)]) as? UnmixedReconstructionLoss)
        let (latent, images) = hiddenTokenData()
        let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 1])
        let tensors = [("latent", latent)] + module.namedParameters()
        func run(_ hiddenOnly: Bool) -> (loss: Float, gradients: [[Float]]) {
            for (_, t) in tensors { t.grad = nil }
            let value =
                hiddenOnly
                ? loss.loss(
                    images: images, unmixed: decoder.reconstructHidden(latent, mixing: mask), mixing: mask,
                    patchSize: 32)
                : loss.loss(
                    images: images, reconstruction: decoder.reconstruct(latent, mixing: mask), mixing: mask,
                    patchSize: 32)
            value.backward()
            return (value.item(), tensors.map { $0.1.grad?.scalars ?? [] })
        }
        let (hidden, whole) = (run(true), run(false))
        #expect(abs(hidden.loss - whole.loss) <= 1e-5 * whole.loss)
        for ((name, _), (got, want)) in zip(tensors, zip(hidden.gradients, whole.gradients)) {
            #expect(got.count == want.count, "\(name)")
            let scale = want.map { abs($0) }.max() ?? 0
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4 * scale + 1e-9, "\(name): \(worst) against gradients up to \(scale)")
        }
    }
}
