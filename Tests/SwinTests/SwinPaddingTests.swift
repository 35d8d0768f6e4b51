import MixKit
import MixSwinModel
import Testing

/// The Swin plugin at sizes its windows do not divide: stages pad their grid
/// to whole windows and keep the padded tokens out of attention as keys.
@Suite struct SwinPaddingTests {
    /// A tiny Swin: patch 4, img_size 32 (grids 8, 4, 2), windows 4/4/2.
    static func tinySwin(seed: UInt64 = 1) throws -> SwinBackbone {
        var params = Parameters(defaultsOf: SwinConfig.schema)
        params["img_size"] = .int(32)
        params["embed_dim"] = .int(8)
        params["depths"] = .intList([2, 1, 1])
        params["num_heads"] = .intList([2, 2, 4])
        params["window_size"] = .intList([4, 4, 2])
        params["out_indices"] = .intList([0, 1, 2])
        return SwinBackbone(try SwinConfig(params), rng: RandomSource(seed: seed))
    }

    func tokens(_ count: Int, channels: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randomNormal([2, count, channels], using: &rng)
    }

    func worst(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
    }

    /// On an 8x8 grid that windows of 4 tile, the padding path (forced here with a
    /// whole extra window of padding at the bottom and right) gives the fast
    /// path's output, with and without MixMAE groups.
    @Test(arguments: [false, true])
    func paddingPathEqualsFastPathWhenWindowsDivide(mixing: Bool) throws {
        let stage = try Self.tinySwin().layers[0]
        let x = tokens(64, channels: 8, seed: 3)
        let groups: [UInt8]? = mixing ? (0..<64).map { UInt8(($0 / 8 + $0 % 8) % 2) } : nil
        let fast = stage(x, height: 8, width: 8, groups: groups)
        let padded = stage(
            x, height: 8, width: 8, groups: groups, padding: GridPadding(height: 8, width: 8, bottom: 4, right: 4))
        #expect(fast.features.shape == [2, 64, 8] && padded.features.shape == [2, 64, 8])
        #expect(worst(fast.features, padded.features) <= 1e-6)
        #expect(worst(fast.next, padded.next) <= 1e-6)
    }

    /// On a 7x10 grid (padded to 8x12 for windows of 4), whatever the padded
    /// tokens hold changes no real token's output.
    @Test func paddedTokensChangeNoRealToken() throws {
        let stage = try Self.tinySwin().layers[0]
        let x = tokens(70, channels: 8, seed: 4)
        let zeros = stage(x, height: 7, width: 10, groups: nil)
        let loud = stage(x, height: 7, width: 10, groups: nil, fill: 50)
        #expect(zeros.features.shape == [2, 70, 8])
        #expect(zeros.next.shape == [2, 4 * 5, 16])
        #expect(worst(zeros.features, loud.features) == 0)
        #expect(worst(zeros.next, loud.next) == 0)
        // The mask matters: without it the padded tokens' content would leak in.
        let unmasked = stage(
            GridPadding(height: 7, width: 10, window: 4).pad(x, fill: 50), height: 8, width: 12, groups: nil)
        let cropped = GridPadding(height: 7, width: 10, window: 4).crop(unmasked.features)
        #expect(worst(zeros.features, cropped) > 1e-3)
    }

    /// Images of sizes neither the patch nor the windows divide give feature maps
    /// of the padded-then-cropped sizes (ceil at every halving), all finite.
    @Test(arguments: [(45, 61), (32, 32), (20, 90)])
    func anySizeGivesCeilGrids(size: (Int, Int)) throws {
        let swin = try Self.tinySwin()
        var rng = RandomGenerator(seed: 5)
        let images = Tensor.randomNormal([1, 3, size.0, size.1], using: &rng)
        let maps = swin.features(images, mixing: nil)
        var (h, w) = ((size.0 + 3) / 4, (size.1 + 3) / 4)
        for (s, map) in maps.enumerated() {
            #expect(map.height == h && map.width == w && map.stride == 4 << s)
            #expect(map.tensor.shape == [1, h * w, 8 << s])
            #expect(map.tensor.scalars.allSatisfy { $0.isFinite })
            (h, w) = ((h + 1) / 2, (w + 1) / 2)
        }
    }

    /// Gradients flow through the padding (concatenate/slice) to the input.
    @Test func gradientsReachTheImage() throws {
        let swin = try Self.tinySwin()
        var rng = RandomGenerator(seed: 6)
        let images = Tensor.randomNormal([1, 3, 27, 38], using: &rng).asParameter()
        let loss = swin.features(images, mixing: nil).map { $0.tensor.sum() }.reduce(Tensor(scalar: 0), +)
        loss.backward()
        let grad = try #require(images.grad)
        #expect(grad.shape == images.shape)
        #expect(grad.scalars.contains { $0 != 0 })
    }
}
