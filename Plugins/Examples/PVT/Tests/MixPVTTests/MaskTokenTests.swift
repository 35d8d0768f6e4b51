import MixKit
import MixKitTesting
import MixPVT
import Testing

/// `mask.mode: mask_token` (the SimMIM-style baseline) on PVT, through the
/// registered descriptor as the host builds it.
@Suite struct MaskTokenTests {
    /// 2x2 mask units at 64 px: the top-right and bottom-left 32x32 quarters are masked.
    static let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])

    static func pvt() throws -> MaskTokenBackbone {
        var params = Parameters(defaultsOf: PVTConfig.schema)
        params["img_size"] = .int(64)
        params["embed_dims"] = .intList([8, 16, 16, 32])
        params["num_heads"] = .intList([1, 2, 2, 4])
        params["depths"] = .intList([1, 1, 1, 1])
        let module = try PVTPlugin.descriptor.build(params, BuildContext(rng: RandomSource(seed: 1)))
        return try #require(module as? MaskTokenBackbone, "pvt must declare MaskTokenBackbone")
    }

    static func images() -> Tensor { randn([2, 3, 64, 64], seed: 2) }

    /// `images` with `delta` added to image `index`'s pixels inside (or outside) the masked quarters.
    static func perturbed(_ images: Tensor, index: Int, insideMask: Bool, delta: Float = 5) -> Tensor {
        var scalars = images.scalars
        for c in 0..<3 {
            for y in 0..<64 {
                for x in 0..<64 where ((y < 32) != (x < 32)) == insideMask {
                    scalars[((index * 3 + c) * 64 + y) * 64 + x] += delta
                }
            }
        }
        return Tensor(shape: images.shape, scalars: scalars)
    }

    @Test func theTokenIsAddedOnceAndOnlyOnRequest() throws {
        let pvt = try Self.pvt()
        #expect(!pvt.namedParameters().contains { $0.0 == "encoder_mask_token" })
        pvt.addMaskToken(using: RandomSource(seed: 3))
        pvt.addMaskToken(using: RandomSource(seed: 4))
        let tokens = pvt.namedParameters().filter { $0.0 == "encoder_mask_token" }
        #expect(tokens.count == 1 && tokens.first?.1.shape == [1, 1, 8])
        #expect(pvt.layerIndex(ofParameter: "encoder_mask_token") == 0)
    }

    /// Nothing of a masked pixel reaches any feature map, at any stage, bit for bit
    /// (the overlapping first embedding would otherwise read 3 pixels into a masked
    /// unit from each visible border token); the visible pixels do; each image is
    /// encoded on its own; a mask of zeros is the plain encoder.
    @Test func maskedPixelsReachNothingAndImagesStayApart() throws {
        let pvt = try Self.pvt()
        pvt.addMaskToken(using: RandomSource(seed: 3))
        let images = Self.images()
        let base = withNoGrad { pvt.features(images, maskedBy: Self.mask) }
        #expect(base.map(\.stride) == [4, 8, 16, 32])
        let underMask = withNoGrad {
            pvt.features(Self.perturbed(images, index: 0, insideMask: true), maskedBy: Self.mask)
        }
        for (a, b) in zip(base, underMask) { #expect(maxAbsDiff(a.tensor, b.tensor) == 0, "stride \(a.stride)") }

        let visible = withNoGrad {
            pvt.features(Self.perturbed(images, index: 0, insideMask: false), maskedBy: Self.mask)
        }
        let final = base.last!.tensor
        let perImage = final.count / 2
        #expect(maxAbsDiff(visible.last!.tensor, final) > 1e-3)
        // Image 1 is untouched by image 0's change: no attention across the batch.
        let image1 = zip(visible.last!.tensor.scalars[perImage...], final.scalars[perImage...])
        #expect(image1.allSatisfy { $0 == $1 }, "image 1 changed with image 0")

        let none = MixingMask(height: 2, width: 2, values: [0, 0, 0, 0])
        let plain = withNoGrad { pvt.features(images, mixing: nil) }
        let unmasked = withNoGrad { pvt.features(images, maskedBy: none) }
        for (a, b) in zip(plain, unmasked) { #expect(maxAbsDiff(a.tensor, b.tensor) == 0, "stride \(a.stride)") }
    }

    /// The masked path's gradients match finite differences: the token (which gets a
    /// nonzero gradient), the first embedding's convolution and later layers.
    @Test func gradientsOfTheMaskedPathMatchFiniteDifferences() throws {
        let pvt = try Self.pvt()
        pvt.addMaskToken(using: RandomSource(seed: 3))
        let parameters = Dictionary(uniqueKeysWithValues: pvt.namedParameters())
        let images = Self.images()
        let names = [
            "encoder_mask_token", "patch_embed1.proj.weight", "patch_embed2.proj.weight", "block2.0.mlp.fc1.weight",
            "norm4.weight",
        ]
        GradientCheck(samplesPerInput: 6).expect(names.map { ($0, parameters[$0]!) }) {
            pvt.features(images, maskedBy: Self.mask).last!.tensor
        }
        let token = try #require(parameters["encoder_mask_token"])
        #expect(token.grad.map { $0.scalars.contains { $0 != 0 } } == true)
    }
}
