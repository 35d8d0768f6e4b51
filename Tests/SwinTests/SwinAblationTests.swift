import MixKit
import MixKitTesting
import MixSwinModel
import Testing

/// The two Swin switches of the paper's ablation: `mix_attention` (may the two
/// mixed images attend to each other?) and the [MASK] token of the SimMIM-style
/// baseline. Each test would fail if the switch did nothing or changed something else.
@Suite struct SwinAblationTests {
    /// A tiny Swin: patch 4, img_size 32 (grids 8, 4, 2), windows 4/4/2, one output.
    static func swin(mixAttention: String = "masked", seed: UInt64 = 1) throws -> SwinBackbone {
        var params = Parameters(defaultsOf: SwinConfig.schema)
        params["img_size"] = .int(32)
        params["embed_dim"] = .int(8)
        params["depths"] = .intList([1, 1, 1])
        params["num_heads"] = .intList([2, 2, 4])
        params["window_size"] = .intList([4, 4, 2])
        params["out_indices"] = .intList([2])
        params["mix_attention"] = .string(mixAttention)
        return SwinBackbone(try SwinConfig(params), rng: RandomSource(seed: seed))
    }

    /// Two images `[2, 3, 32, 32]`, and the same with image 1 replaced by other pixels.
    static func pair() -> (images: Tensor, otherPartner: Tensor) {
        var rng = RandomGenerator(seed: 7)
        let images = Tensor.randomNormal([2, 3, 32, 32], using: &rng)
        var scalars = images.scalars
        for i in (3 * 32 * 32)..<scalars.count { scalars[i] = Float(rng.nextDouble()) * 4 - 2 }
        return (images, Tensor(shape: [2, 3, 32, 32], scalars: scalars))
    }

    /// Half of the 2x2 final grid from the partner: cells 1 and 2.
    static let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])

    /// The largest difference between rows 0 of two final feature maps at the
    /// final-grid cells where `mask` is `value`.
    func rowZeroDifference(_ a: Tensor, _ b: Tensor, where value: UInt8) -> Float {
        let c = a.shape[2]
        var worst: Float = 0
        for cell in 0..<4 where Self.mask.values[cell] == value {
            for k in 0..<c { worst = max(worst, abs(a.scalars[cell * c + k] - b.scalars[cell * c + k])) }
        }
        return worst
    }

    /// Masked attention: the tokens of image 0 at the cells it keeps (mask 0)
    /// do not see image 1, whatever image 1 holds. Full attention: they do. The
    /// tokens taken from image 1 (mask 1) see image 1 in both modes.
    @Test func maskedAttentionKeepsEachImageToItselfFullAttentionDoesNot() throws {
        let (images, otherPartner) = Self.pair()
        for mode in ["masked", "full"] {
            let swin = try Self.swin(mixAttention: mode)
            let a = swin.features(images, mixing: Self.mask).last!.tensor
            let b = swin.features(otherPartner, mixing: Self.mask).last!.tensor
            let ownCells = rowZeroDifference(a, b, where: 0)
            if mode == "masked" {
                #expect(ownCells == 0, "masked attention leaked the partner image into image 0's tokens")
            } else {
                #expect(ownCells > 1e-3, "full attention must let image 0's tokens see the partner")
            }
            #expect(rowZeroDifference(a, b, where: 1) > 1e-3)
        }
    }

    /// The switch changes attention across images only: without mixing (and with
    /// a mask of zeros, one source image) both modes give the same features, and
    /// so do the same weights with the switch flipped.
    @Test func attentionModesAgreeWhenNothingIsMixed() throws {
        let (images, _) = Self.pair()
        let masked = try Self.swin(mixAttention: "masked")
        let full = try Self.swin(mixAttention: "full")
        #expect(masked.namedTensors().map(\.1.scalars) == full.namedTensors().map(\.1.scalars))
        let none = MixingMask(height: 2, width: 2, values: [0, 0, 0, 0])
        for mixing in [nil, none] {
            let a = masked.features(images, mixing: mixing).last!.tensor.scalars
            let b = full.features(images, mixing: mixing).last!.tensor.scalars
            #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-6)
        }
        let a = masked.features(images, mixing: Self.mask).last!.tensor.scalars
        let b = full.features(images, mixing: Self.mask).last!.tensor.scalars
        #expect(zip(a, b).map { abs($0 - $1) }.max()! > 1e-3)
    }

    /// `features(maskedBy:)`: the pixels under the mask change nothing (they are
    /// replaced by the token), the pixels outside it do; each image is encoded on
    /// its own; a mask of zeros is the plain encoder; the token is trainable and
    /// its gradient is right (finite differences).
    @Test func theMaskTokenReplacesTheMaskedPatchesAndLearns() throws {
        let swin = try Self.swin()
        #expect(!swin.namedParameters().contains { $0.0 == "encoder_mask_token" })
        swin.addMaskToken(using: RandomSource(seed: 3))
        swin.addMaskToken(using: RandomSource(seed: 4))
        let token = try #require(swin.namedParameters().first { $0.0 == "encoder_mask_token" }?.1)
        #expect(token.shape == [1, 1, 8])
        #expect(swin.namedParameters().filter { $0.0 == "encoder_mask_token" }.count == 1)

        let (images, otherPartner) = Self.pair()
        var scalars = images.scalars
        // Change image 0's pixels inside the masked cells (cells 1 and 2 of the 2x2
        // grid: the top-right and bottom-left 16x16 quarters).
        for c in 0..<3 {
            for y in 0..<32 {
                for x in 0..<32 where (y < 16) != (x < 16) { scalars[(c * 32 + y) * 32 + x] += 5 }
            }
        }
        let underMask = Tensor(shape: images.shape, scalars: scalars)
        let base = swin.features(images, maskedBy: Self.mask).last!.tensor
        #expect(swin.features(underMask, maskedBy: Self.mask).last!.tensor.scalars == base.scalars)
        // Image 0 alone: its features do not depend on image 1.
        let alone = swin.features(otherPartner, maskedBy: Self.mask).last!.tensor
        #expect(Array(alone.scalars[0..<(4 * 32)]) == Array(base.scalars[0..<(4 * 32)]))
        // No masked patch: the token is unused and the encoder is the plain one.
        let none = MixingMask(height: 2, width: 2, values: [0, 0, 0, 0])
        #expect(
            swin.features(images, maskedBy: none).last!.tensor.scalars
                == swin.features(images, mixing: nil).last!.tensor.scalars)

        let report = GradientCheck(samplesPerInput: 8).check([("encoder_mask_token", token)]) {
            swin.features(images, maskedBy: Self.mask).last!.tensor
        }
        #expect(report.passed, "\(report)")
        #expect(token.grad.map { $0.scalars.contains { $0 != 0 } } == true)
    }
}
