import MixKit
import MixKitTesting
import MixPVT
import Testing

@Suite struct MixingAttentionTests {
    @Test func theBiasMasksKeysOfTheOtherImage() {
        // A 2x2 mask; queries on a 4x4 stage grid, keys on the 2x2 reduced grid.
        let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])
        let bias = mask.attentionBias(queries: (4, 4), keys: (2, 2))
        #expect(bias.shape == [16, 4])
        let queryGroups = mask.upsampled(height: 4, width: 4)
        for q in 0..<16 {
            for k in 0..<4 {
                let expected: Float = queryGroups[q] == mask.values[k] ? 0 : -1e30
                #expect(bias.data[q * 4 + k] == expected, "query \(q), key \(k)")
            }
        }
    }

    /// Spatial-reduction attention with `srRatio` on a `side x side` grid under a 2x2 mask:
    /// changing the other image's tokens leaves a query's output as it was.
    @Test(arguments: [(srRatio: 2, side: 4), (srRatio: 1, side: 2), (srRatio: 4, side: 8)])
    func queriesSeeOnlyTheirOwnImage(srRatio: Int, side: Int) {
        let attention = SpatialReductionAttention(dim: 8, heads: 2, srRatio: srRatio, rng: RandomSource(seed: 1))
        let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])
        let groups = mask.upsampled(height: side, width: side)
        let x = randn([2, side * side, 8], seed: 2)
        let before = withNoGrad { attention(x, height: side, width: side, mixing: mask) }
        for changed: UInt8 in [0, 1] {
            let noise = Tensor(
                shape: [1, side * side, 1], scalars: groups.map { $0 == changed ? 3 : 0 })
            let after = withNoGrad {
                attention(x + noise * randn(x.shape, seed: 9), height: side, width: side, mixing: mask)
            }
            for t in groups.indices {
                var difference: Float = 0
                for b in 0..<2 {
                    for ch in 0..<8 {
                        let i = (b * side * side + t) * 8 + ch
                        difference = max(difference, abs(after.data[i] - before.data[i]))
                    }
                }
                if groups[t] == changed {
                    #expect(difference > 1e-4, "token \(t) should see its own image change")
                } else {
                    #expect(difference == 0, "token \(t) of group \(groups[t]) saw group \(changed)")
                }
            }
        }
    }

    @Test func gradientsMatchFiniteDifferencesWhenMixed() {
        let attention = SpatialReductionAttention(dim: 8, heads: 2, srRatio: 2, rng: RandomSource(seed: 3))
        let mask = MixingMask(height: 2, width: 2, values: [1, 0, 0, 1])
        let x = randn([2, 16, 8], seed: 4)
        GradientCheck().expect([
            ("x", x), ("q.weight", attention.q.weight), ("kv.weight", attention.kv.weight),
            ("sr.weight", attention.sr!.weight),
        ]) {
            attention(x, height: 4, width: 4, mixing: mask)
        }
    }
}
