import Foundation
import MixKit
import MixmaePluginHost
import TestSupport
import Testing

/// The decoder and loss sides of the paper's ablation, from the built plugin
/// libraries: `dual: false` leaves the partner image's loss out, and the
/// SimMIM-style baseline decodes one image per input and scores its masked
/// patches only (0 and 1 ratios included).
extension InProcess {
    @Suite struct ReconstructionAblationTests {
        let directory: TemporaryFolder
        let catalog: PluginCatalog

        init() throws {
            directory = try TemporaryFolder()
            catalog = try PluginTests.catalog(
                ["MixViTDecoder", "MixReconstruction"].map { buildDirectory + "/lib\($0).so" }, in: directory)
        }

        func build(_ id: String, _ values: [String: ParameterValue] = [:], _ context: BuildContext = BuildContext())
            throws -> Module
        {
            let descriptor = try #require(catalog.component(id)).descriptor
            var params = Parameters(defaultsOf: descriptor.parameters)
            for (key, value) in values { params[key] = value }
            var context = context
            context.rng = RandomSource(seed: 0)
            return try descriptor.build(params, context)
        }

        /// Two 64-pixel images (2x2 final grid at stride 32) and a reconstruction `[rows, 4, 3072]`.
        func data(rows: Int) -> (images: Tensor, reconstruction: Tensor) {
            var rng = RandomGenerator(seed: 5)
            return (
                Tensor.randomNormal([2, 3, 64, 64], using: &rng),
                Tensor.randomNormal([rows, 4, 32 * 32 * 3], using: &rng).asParameter()
            )
        }

        /// Mean squared error over the listed (row, token) pairs, in double precision.
        func meanError(_ prediction: Tensor, _ target: Tensor, _ pairs: [(Int, Int, Int)]) -> Double {
            let p = 32 * 32 * 3
            var sum = 0.0
            for (row, token, targetRow) in pairs {
                for k in 0..<p {
                    let d =
                        Double(prediction.scalars[(row * 4 + token) * p + k])
                        - Double(target.scalars[(targetRow * 4 + token) * p + k])
                    sum += d * d
                }
            }
            return sum / Double(pairs.count * p)
        }

        /// Which (row, token) cells of `[rows, 4, P]` got a nonzero gradient.
        func touched(_ gradient: Tensor?) -> Set<[Int]> {
            guard let g = gradient else { return [] }
            let p = g.shape[2]
            var cells = Set<[Int]>()
            for row in 0..<g.shape[0] {
                for token in 0..<4 where (0..<p).contains(where: { g.scalars[(row * 4 + token) * p + $0] != 0 }) {
                    cells.insert([row, token])
                }
            }
            return cells
        }

        /// Targets as the loss sees them (plain pixels: `norm_pix_loss: false`), `[2, 4, P]`.
        func patches(_ images: Tensor) -> Tensor {
            images.reshaped([2, 3, 2, 32, 2, 32]).permuted([0, 2, 4, 3, 5, 1]).reshaped([2, 4, 32 * 32 * 3])
        }

        @Test func dualFalseLeavesThePartnerImageOut() throws {
            let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])
            let (images, reconstruction) = data(rows: 4)
            let target = patches(images)
            var losses: [Bool: Double] = [:]
            for dual in [true, false] {
                let loss = try #require(
                    try build("mix-reconstruction", ["norm_pix_loss": .bool(false), "dual": .bool(dual)])
                        as? ReconstructionLoss)
                reconstruction.grad = nil
                let value = loss.loss(images: images, reconstruction: reconstruction, mixing: mask, patchSize: 32)
                value.backward()
                losses[dual] = Double(value.item())
                let cells = touched(reconstruction.grad)
                if dual {
                    // Branch 1 predicts image i where m = 1, branch 2 (row B + (B-1-i)) where m = 0.
                    let expected = meanError(
                        reconstruction, target,
                        [(0, 1, 0), (0, 2, 0), (1, 1, 1), (1, 2, 1), (3, 0, 0), (3, 3, 0), (2, 0, 1), (2, 3, 1)])
                    #expect(abs(Double(value.item()) - expected) <= 1e-5 * expected)
                    #expect(cells.contains { $0[0] >= 2 })
                } else {
                    // Only branch 1, only where each image was hidden: the second branch gets no gradient.
                    let expected = meanError(reconstruction, target, [(0, 1, 0), (0, 2, 0), (1, 1, 1), (1, 2, 1)])
                    #expect(abs(Double(value.item()) - expected) <= 1e-5 * expected)
                    #expect(cells == [[0, 1], [0, 2], [1, 1], [1, 2]])
                }
            }
            #expect(losses[true] != losses[false])
        }

        /// SimMIM's loss: each image's own reconstruction over its masked patches;
        /// ratio 0 (nothing masked) gives exactly 0 and no gradient, ratio 1 the plain mean.
        @Test(arguments: [[0, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]] as [[UInt8]])
        func theMaskedLossScoresMaskedPatchesOnly(values: [UInt8]) throws {
            let mask = MixingMask(height: 2, width: 2, values: values)
            let (images, reconstruction) = data(rows: 2)
            let loss = try #require(
                try build("mix-reconstruction", ["norm_pix_loss": .bool(false)]) as? MaskedReconstructionLoss)
            let value = loss.maskedLoss(images: images, reconstruction: reconstruction, mask: mask, patchSize: 32)
            value.backward()
            let masked = (0..<4).filter { values[$0] == 1 }
            if masked.isEmpty {
                #expect(value.item() == 0)
                #expect(touched(reconstruction.grad).isEmpty)
                return
            }
            let pairs = [0, 1].flatMap { row in masked.map { (row, $0, row) } }
            let expected = meanError(reconstruction, patches(images), pairs)
            #expect(abs(Double(value.item()) - expected) <= 1e-4 * expected)
            #expect(touched(reconstruction.grad) == Set(pairs.map { [$0.0, $0.1] }))
        }

        /// One image per latent: the same decoder as MixMAE's first branch with
        /// nothing masked, and its own mask token is not used.
        @Test func theSingleImageDecoderIsTheFirstBranchWithoutTheMaskToken() throws {
            let context = BuildContext(inputs: [FeatureSpec(stride: 32, channels: 16)], imageSize: 64)
            let module = try build(
                "vit-decoder", ["decoder_dim": .int(16), "decoder_depth": .int(1), "decoder_num_heads": .int(2)],
                context)
            let decoder = try #require(module as? SingleImageDecoder)
            var rng = RandomGenerator(seed: 9)
            let latent = Tensor.randomNormal([2, 4, 16], using: &rng)
            let single = decoder.reconstructEach(latent)
            #expect(single.shape == [2, 4, 32 * 32 * 3])
            let none = MixingMask(height: 2, width: 2, values: [0, 0, 0, 0])
            let branches = decoder.reconstruct(latent, mixing: none)
            let worst = zip(single.scalars, branches.slice(axis: 0, 0..<2).scalars).map { abs($0 - $1) }.max()!
            #expect(worst <= 1e-5)
            let maskToken = try #require(module.namedParameters().first { $0.0 == "mask_token" }?.1)
            maskToken.grad = nil
            decoder.reconstructEach(latent).square().mean().backward()
            #expect(maskToken.grad == nil || maskToken.grad!.scalars.allSatisfy { $0 == 0 })
        }
    }
}
