import MixKit
import MixKitTesting
import MixPVT
import Testing

/// PVT takes images of any height and width: its patch embeddings are padded convolutions
/// (grids round up), and its spatial-reduction attention pads a grid shorter than its ratio.
@Suite struct AnySizeTests {
    /// A grid shorter than the reduction ratio gives the attention of that grid with zero tokens
    /// added at the bottom and right, read at the real tokens: the padding only adds the one key.
    @Test(arguments: [(5, 9), (9, 5), (3, 2)]) func aShortGridAttendsAsIfPaddedWithZeroTokens(
        _ size: (height: Int, width: Int)
    ) {
        let ratio = 8
        let attention = SpatialReductionAttention(dim: 8, heads: 2, srRatio: ratio, rng: RandomSource(seed: 3))
        let (h, w) = size
        let x = randn([2, h * w, 8], seed: 4)
        let output = withNoGrad { attention(x, height: h, width: w) }
        #expect(output.shape == [2, h * w, 8])
        let finite = output.scalars.allSatisfy { $0.isFinite }
        #expect(finite)

        let (ph, pw) = (max(h, ratio), max(w, ratio))
        let padded = Tensor.zeros([2, ph * pw, 8])
        for b in 0..<2 {
            for y in 0..<h {
                for xx in 0..<w {
                    for c in 0..<8 {
                        padded.data[(b * ph * pw + y * pw + xx) * 8 + c] = x.data[(b * h * w + y * w + xx) * 8 + c]
                    }
                }
            }
        }
        let reference = withNoGrad { attention(padded, height: ph, width: pw) }
        var difference: Float = 0
        for b in 0..<2 {
            for y in 0..<h {
                for xx in 0..<w {
                    for c in 0..<8 {
                        let got = output.data[(b * h * w + y * w + xx) * 8 + c]
                        let want = reference.data[(b * ph * pw + y * pw + xx) * 8 + c]
                        difference = max(difference, abs(got - want))
                    }
                }
            }
        }
        #expect(difference <= 1e-6, "max difference \(difference)")
    }

    /// A grid the ratio fits is reduced as PyTorch's `Conv2d` does (floored): no padding.
    @Test func aLongEnoughGridIsNotPadded() {
        let x = randn([1, 9 * 6, 4], seed: 6)
        let (same, h, w) = SpatialReductionAttention.padToOneKey(x, height: 9, width: 6, ratio: 4)
        #expect(h == 9 && w == 6 && same.shape == x.shape)
        let (padded, ph, pw) = SpatialReductionAttention.padToOneKey(x, height: 9, width: 6, ratio: 8)
        #expect(ph == 9 && pw == 8 && padded.shape == [1, 72, 4])
    }

    /// Gradients through the padding match finite differences.
    @Test func gradientsThroughThePaddingMatchFiniteDifferences() {
        let attention = SpatialReductionAttention(dim: 4, heads: 1, srRatio: 4, rng: RandomSource(seed: 5))
        let x = randn([1, 3 * 5, 4], seed: 6)
        GradientCheck().expect([("x", x), ("sr.weight", attention.sr!.weight)]) {
            attention(x, height: 3, width: 5)
        }
    }
}
