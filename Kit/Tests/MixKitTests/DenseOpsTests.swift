import Foundation
import MixKit
import MixKitTesting
import Testing

/// Convolution, group norm, resampling and pooling: values against naive loops
/// or hand-computed PyTorch results, gradients against finite differences.
@Suite struct DenseOpsTests {
    let check = GradientCheck()

    /// PyTorch's conv2d, written as the definition.
    func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, padding: Int, dilation: Int) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (w.shape[0], w.shape[2])
        let ho = (h + 2 * padding - dilation * (k - 1) - 1) / stride + 1
        let wo = (wd + 2 * padding - dilation * (k - 1) - 1) / stride + 1
        var out = [Float](repeating: 0, count: n * o * ho * wo)
        let xs = x.scalars
        let ws = w.scalars
        for bi in 0..<n {
            for oc in 0..<o {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var s = b?.scalars[oc] ?? 0
                        for ic in 0..<c {
                            for ki in 0..<k {
                                for kj in 0..<k {
                                    let iy = oy * stride - padding + ki * dilation
                                    let ix = ox * stride - padding + kj * dilation
                                    guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                                    s += xs[((bi * c + ic) * h + iy) * wd + ix] * ws[((oc * c + ic) * k + ki) * k + kj]
                                }
                            }
                        }
                        out[((bi * o + oc) * ho + oy) * wo + ox] = s
                    }
                }
            }
        }
        return out
    }

    @Test func convolutionMatchesTheDefinition() {
        let cases: [(b: Int, c: Int, o: Int, h: Int, w: Int, k: Int, s: Int, p: Int, d: Int)] = [
            (2, 3, 4, 7, 6, 3, 1, 1, 1),  // "same" 3x3
            (2, 3, 5, 8, 8, 3, 2, 1, 1),  // stride 2 (FPN's P6)
            (1, 4, 3, 5, 5, 1, 1, 0, 1),  // 1x1 on one image (aliases the input)
            (3, 4, 3, 5, 5, 1, 1, 0, 1),  // 1x1 on a batch
            (1, 2, 2, 9, 7, 3, 1, 2, 2),  // dilation
            (2, 2, 3, 6, 5, 5, 3, 2, 1),  // large kernel, odd stride
        ]
        for (i, t) in cases.enumerated() {
            let x = randn([t.b, t.c, t.h, t.w], seed: UInt64(i + 1))
            let w = randn([t.o, t.c, t.k, t.k], seed: UInt64(i + 11), scale: 0.5)
            let bias = randn([t.o], seed: UInt64(i + 21))
            let y = conv2d(x, weight: w, bias: bias, stride: t.s, padding: t.p, dilation: t.d)
            let want = naiveConv(x, w, bias, stride: t.s, padding: t.p, dilation: t.d)
            #expect(y.count == want.count, "case \(i)")
            let diff = zip(y.scalars, want).map { abs($0 - $1) }.max() ?? 0
            #expect(diff < 1e-4, "case \(i): max difference \(diff)")
            let noBias = conv2d(x, weight: w, bias: nil, stride: t.s, padding: t.p, dilation: t.d)
            let wantNoBias = naiveConv(x, w, nil, stride: t.s, padding: t.p, dilation: t.d)
            #expect(zip(noBias.scalars, wantNoBias).allSatisfy { abs($0 - $1) < 1e-4 }, "case \(i) without bias")
        }
    }

    @Test func convolutionGradients() {
        let x = randn([2, 3, 6, 5], seed: 1)
        let w = randn([4, 3, 3, 3], seed: 2, scale: 0.5)
        let b = randn([4], seed: 3)
        check.expect([x, w, b]) { conv2d($0[0], weight: $0[1], bias: $0[2], stride: 1, padding: 1) }
        check.expect([x.copy(), w.copy()]) { conv2d($0[0], weight: $0[1], bias: nil, stride: 2, padding: 1) }
        check.expect([randn([1, 3, 4, 4], seed: 4), randn([2, 3, 1, 1], seed: 5), randn([2], seed: 6)]) {
            conv2d($0[0], weight: $0[1], bias: $0[2])
        }
        check.expect([randn([2, 2, 7, 7], seed: 7), randn([3, 2, 3, 3], seed: 8)]) {
            conv2d($0[0], weight: $0[1], bias: nil, padding: 2, dilation: 2)
        }
    }

    @Test func groupNormMatchesTheDefinition() {
        let (b, c, h, w, groups) = (2, 6, 3, 4, 3)
        let x = randn([b, c, h, w], seed: 3, scale: 2)
        let gamma = randn([c], seed: 4)
        let beta = randn([c], seed: 5)
        let y = groupNorm(x, groups: groups, weight: gamma, bias: beta)
        let xs = x.scalars
        let per = c / groups * h * w
        for bi in 0..<b {
            for g in 0..<groups {
                let start = (bi * groups + g) * per
                let values = xs[start..<(start + per)].map(Double.init)
                let mean = values.reduce(0, +) / Double(per)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(per)
                for i in 0..<per {
                    let channel = g * (c / groups) + i / (h * w)
                    let want =
                        (values[i] - mean) / (variance + 1e-5).squareRoot() * Double(gamma.scalars[channel])
                        + Double(beta.scalars[channel])
                    #expect(abs(Double(y.scalars[start + i]) - want) < 1e-4)
                }
            }
        }
    }

    @Test func groupNormGradients() {
        check.expect([randn([2, 6, 3, 3], seed: 1), randn([6], seed: 2), randn([6], seed: 3)]) {
            groupNorm($0[0], groups: 3, weight: $0[1], bias: $0[2])
        }
        check.expect([randn([3, 4, 2, 5], seed: 4)]) { groupNorm($0[0], groups: 2, weight: nil, bias: nil) }
        // One group (LayerNorm over C, H, W) and one channel per group (InstanceNorm).
        check.expect([randn([2, 4, 3, 3], seed: 5), randn([4], seed: 6), randn([4], seed: 7)]) {
            groupNorm($0[0], groups: 1, weight: $0[1], bias: $0[2])
                + groupNorm($0[0], groups: 4, weight: $0[1], bias: $0[2])
        }
    }

    @Test func bilinearMatchesPyTorch() {
        let x = Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])
        // F.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False)
        let up = interpolate(x, height: 4, width: 4, mode: .bilinear)
        #expect(
            up.scalars == [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4])
        // align_corners=True, size (3, 3)
        let corners = interpolate(x, height: 3, width: 3, mode: .bilinear, alignCorners: true)
        #expect(corners.scalars == [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
        // Downsampling 4 -> 2 averages neighbour pairs; 1 -> 3 repeats.
        let row = Tensor(shape: [1, 1, 1, 4], scalars: [1, 2, 3, 4])
        #expect(interpolate(row, height: 1, width: 2, mode: .bilinear).scalars == [1.5, 3.5])
        let one = Tensor(shape: [1, 1, 1, 1], scalars: [5])
        #expect(interpolate(one, height: 3, width: 2, mode: .bilinear).scalars == [5, 5, 5, 5, 5, 5])
        // Non-integer ratio 3 -> 5: sources (d + 0.5) * 0.6 - 0.5 = -0.2 (0), 0.4, 1.0, 1.6, 2.2 (clamped to 2).
        let three = Tensor(shape: [1, 1, 1, 3], scalars: [0, 10, 20])
        let five = interpolate(three, height: 1, width: 5, mode: .bilinear).scalars
        for (got, want) in zip(five, [Float(0), 4, 10, 16, 20]) { #expect(abs(got - want) < 1e-5) }
    }

    @Test func nearestMatchesPyTorch() {
        let x = Tensor(shape: [1, 1, 1, 3], scalars: [1, 2, 3])
        #expect(interpolate(x, height: 1, width: 5, mode: .nearest).scalars == [1, 1, 2, 2, 3])
        #expect(interpolate(x, height: 2, width: 6, mode: .nearest).scalars == [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
        let y = Tensor(shape: [1, 1, 1, 4], scalars: [1, 2, 3, 4])
        #expect(interpolate(y, height: 1, width: 2, mode: .nearest).scalars == [1, 3])
    }

    @Test func resamplingGradients() {
        let x = randn([2, 3, 4, 5], seed: 9)
        check.expect([x]) { interpolate($0[0], height: 7, width: 9, mode: .bilinear) }
        check.expect([x.copy()]) { interpolate($0[0], height: 3, width: 2, mode: .bilinear) }
        check.expect([x.copy()]) { interpolate($0[0], height: 8, width: 10, mode: .bilinear, alignCorners: true) }
        check.expect([x.copy()]) { interpolate($0[0], height: 8, width: 7, mode: .nearest) }
        check.expect([x.copy()]) { adaptiveAvgPool2d($0[0], height: 3, width: 6) }
        check.expect([x.copy()]) { adaptiveAvgPool2d($0[0], height: 1, width: 1) }
    }

    @Test func adaptivePoolingUsesPyTorchBins() {
        // 5 -> 3: bins [0, 2), [1, 4), [3, 5).
        let x = Tensor(shape: [1, 1, 1, 5], scalars: [1, 2, 3, 4, 5])
        #expect(adaptiveAvgPool2d(x, height: 1, width: 3).scalars == [1.5, 3, 4.5])
        // 2x2 -> 1x1 is the mean; 4 -> 6 repeats and mixes.
        let square = Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 6])
        #expect(adaptiveAvgPool2d(square, height: 1, width: 1).scalars == [3])
        let four = Tensor(shape: [1, 1, 1, 4], scalars: [0, 4, 8, 12])
        // 4 -> 6: bins [0, 1), [0, 2), [1, 2), [2, 3), [2, 4), [3, 4).
        #expect(adaptiveAvgPool2d(four, height: 1, width: 6).scalars == [0, 2, 4, 8, 10, 12])
    }

    @Test func convolutionLayersHaveMMCVNames() {
        let rng = RandomSource(seed: 6)
        let module = ConvModule(4, 8, kernelSize: 3, padding: 1, groupNormGroups: 2, rng: rng)
        #expect(module.namedParameters().map(\.0) == ["conv.weight", "gn.weight", "gn.bias"])
        let plain = ConvModule(4, 8, kernelSize: 1, activation: false, rng: rng)
        #expect(plain.namedParameters().map(\.0) == ["conv.weight", "conv.bias"])
        let y = module(randn([2, 4, 5, 5]))
        #expect(y.shape == [2, 8, 5, 5])
        #expect(y.scalars.allSatisfy { $0 >= 0 })
        let scale = Scale(2)
        #expect(scale.namedParameters().map(\.0) == ["scale"])
        #expect(scale(Tensor([1, 2])).scalars == [2, 4])
    }
}

/// The same ops on inputs large enough to be split over threads.
@Suite struct DenseOpsThreadedTests {
    let check = GradientCheck(samplesPerInput: 12)

    @Test func largeConvolutionMatchesTheDefinitionAndHasGradients() {
        let x = randn([3, 24, 20, 20], seed: 1)
        let w = randn([32, 24, 3, 3], seed: 2, scale: 0.2)
        let b = randn([32], seed: 3)
        let y = conv2d(x, weight: w, bias: b, padding: 1)
        let want = DenseOpsTests().naiveConv(x, w, b, stride: 1, padding: 1, dilation: 1)
        #expect(zip(y.scalars, want).allSatisfy { abs($0 - $1) < 1e-3 })
        check.expect([x, w, b]) { conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1) }
    }

    @Test func largeGroupNormAndResamplingHaveGradients() {
        let x = randn([4, 32, 16, 16], seed: 4)
        check.expect([x, randn([32], seed: 5), randn([32], seed: 6)]) {
            groupNorm($0[0], groups: 8, weight: $0[1], bias: $0[2])
        }
        check.expect([x.copy()]) { interpolate($0[0], height: 40, width: 40, mode: .bilinear) }
        check.expect([x.copy()]) { adaptiveAvgPool2d($0[0], height: 6, width: 6) }
    }
}
