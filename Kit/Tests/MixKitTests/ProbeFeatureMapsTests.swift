import MixKit
import MixKitTesting
import Testing

@Suite struct ProbeFeatureMapsTests {
    /// A probe's random maps: one per spec, sized by stride, drawn in order from the caller's generator.
    @Test func probeFeatureMapsFollowTheSpecs() {
        var rng = RandomGenerator(seed: 1)
        let maps = FeatureMap.probe(
            [FeatureSpec(stride: 4, channels: 3), FeatureSpec(stride: 64, channels: 5)], imageSize: 32, using: &rng)
        #expect(maps.map(\.tensor.shape) == [[2, 64, 3], [2, 1, 5]])
        #expect(maps.map(\.stride) == [4, 64])
        #expect(maps.map(\.height) == [8, 1])
        var again = RandomGenerator(seed: 1)
        #expect(maps[0].tensor.scalars == Tensor.randomNormal([2, 64, 3], using: &again).scalars)
        #expect(maps[1].tensor.scalars == Tensor.randomNormal([2, 1, 5], using: &again).scalars)
    }
}
