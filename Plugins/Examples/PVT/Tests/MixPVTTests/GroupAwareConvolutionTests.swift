import MixKit
import MixKitTesting
import MixPVT
import Testing

/// The convolutions PVT runs on a MixMAE-mixed batch, at small sizes.
struct ConvolutionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var inChannels: Int
    var outChannels: Int
    var kernel: Int
    var stride: Int
    var padding: Int
    var depthwise = false
    /// The input grid side (pixels for the first patch embedding).
    var side: Int
    var mask: MixingMask

    var testDescription: String { name }

    func makeConvolution() -> TokenConv2d {
        let conv = TokenConv2d(
            inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, depthwise: depthwise,
            rng: RandomSource(seed: 10))
        conv.bias.data.update(from: randn([outChannels], seed: 11).data, count: outChannels)
        return conv
    }

    static let all = [
        // patch_embed1: 7x7, stride 4, on pixels; a 64-pixel image has 2x2 mask units.
        ConvolutionCase(
            name: "first patch embedding", inChannels: 3, outChannels: 4, kernel: 7, stride: 4, padding: 3,
            side: 64, mask: MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])),
        // patch_embed2..4: 3x3, stride 2, halving a grid of 4x4 tokens per mask unit.
        ConvolutionCase(
            name: "later patch embedding", inChannels: 3, outChannels: 5, kernel: 3, stride: 2, padding: 1,
            side: 12, mask: MixingMask(height: 3, width: 3, values: [0, 1, 1, 1, 0, 0, 0, 1, 0])),
        // The last one: a 2x2-token unit per mask unit in, one token out.
        ConvolutionCase(
            name: "last patch embedding", inChannels: 4, outChannels: 3, kernel: 3, stride: 2, padding: 1,
            side: 6, mask: MixingMask(height: 3, width: 3, values: [1, 0, 1, 0, 1, 1, 0, 0, 1])),
        // The MLP's depthwise 3x3, stride 1.
        ConvolutionCase(
            name: "depthwise MLP convolution", inChannels: 4, outChannels: 4, kernel: 3, stride: 1, padding: 1,
            depthwise: true, side: 6, mask: MixingMask(height: 3, width: 3, values: [0, 1, 1, 1, 0, 0, 0, 1, 0])),
    ]
}

@Suite struct GroupAwareConvolutionTests {
    /// The definition: run the plain convolution once per group on the input with the
    /// other group's tokens zeroed, and take each output token from its own group's run.
    @Test(arguments: ConvolutionCase.all) func equalsOnePlainConvolutionPerGroup(_ c: ConvolutionCase) {
        let conv = c.makeConvolution()
        let x = randn([2, c.side * c.side, c.inChannels], seed: 3)
        let (y, outH, outW) = withNoGrad { conv(x, height: c.side, width: c.side, mixing: c.mask) }
        let inputGroups = c.mask.upsampled(height: c.side, width: c.side)
        let outputGroups = c.mask.upsampled(height: outH, width: outW)
        let expected = Tensor.zeros(y.shape)
        for group: UInt8 in [0, 1] {
            let keep = Tensor(shape: [1, inputGroups.count, 1], scalars: inputGroups.map { $0 == group ? 1 : 0 })
            let (own, _, _) = withNoGrad { conv(x * keep, height: c.side, width: c.side) }
            for b in 0..<2 {
                for o in outputGroups.indices where outputGroups[o] == group {
                    let row = (b * outputGroups.count + o) * c.outChannels
                    (expected.data + row).update(from: own.data + row, count: c.outChannels)
                }
            }
        }
        #expect(maxAbsDiff(y, expected) <= 1e-5, "\(c.name)")
        // ... and it is not the plain convolution: tokens at unit borders differ.
        let (plain, _, _) = withNoGrad { conv(x, height: c.side, width: c.side) }
        #expect(maxAbsDiff(y, plain) > 1e-2, "\(c.name)")
    }

    @Test(arguments: ConvolutionCase.all) func gradientsMatchFiniteDifferences(_ c: ConvolutionCase) {
        let conv = c.makeConvolution()
        let x = randn([2, c.side * c.side, c.inChannels], seed: 5)
        GradientCheck().expect([("x", x), ("weight", conv.weight), ("bias", conv.bias)]) {
            conv(x, height: c.side, width: c.side, mixing: c.mask).0
        }
    }

    /// An input that differs only in the other group's tokens gives the same output
    /// tokens, and the gradient never reaches across: d out[o] / d in[i] = 0 exactly
    /// when i and o are in different groups.
    @Test(arguments: ConvolutionCase.all) func noTokenReadsTheOtherGroup(_ c: ConvolutionCase) {
        let conv = c.makeConvolution()
        let x = randn([1, c.side * c.side, c.inChannels], seed: 7).asParameter()
        let (y, outH, outW) = conv(x, height: c.side, width: c.side, mixing: c.mask)
        let inputGroups = c.mask.upsampled(height: c.side, width: c.side)
        let outputGroups = c.mask.upsampled(height: outH, width: outW)
        for group: UInt8 in [0, 1] {
            let seed = Tensor(
                shape: y.shape,
                scalars: outputGroups.flatMap { [Float](repeating: $0 == group ? 1 : 0, count: c.outChannels) })
            x.grad = nil
            y.backward(seed)
            let grad = x.grad!
            var reached = [false, false]
            for i in inputGroups.indices {
                for ch in 0..<c.inChannels where grad.data[i * c.inChannels + ch] != 0 {
                    reached[Int(inputGroups[i])] = true
                }
            }
            #expect(reached[Int(group)], "\(c.name): group \(group)'s outputs depend on its inputs")
            #expect(!reached[Int(1 - group)], "\(c.name): group \(group)'s outputs read the other group")
        }
    }

    /// A 3x3 window on a 4x4 grid whose left half is group 0 and right half group 1:
    /// taps on the other half read the zero row (index 16), like padding.
    @Test func gatherIndicesPointOtherGroupsAtTheZeroRow() {
        let plan = ConvolutionPlan(height: 4, width: 4, kernel: 3, stride: 1, padding: 1)
        let columns: [UInt8] = [0, 0, 1, 1]
        let groups = (0..<16).map { columns[$0 % 4] }
        let indices = plan.gatherIndices(groups: ConvolutionGroups(input: groups, output: groups))
        // Output (1, 1), group 0: its right column (x = 2) is group 1.
        #expect(Array(indices[(1 * 4 + 1) * 9..<(1 * 4 + 2) * 9]) == [0, 1, 16, 4, 5, 16, 8, 9, 16])
        // Output (1, 2), group 1: its left column (x = 1) is group 0.
        #expect(Array(indices[(1 * 4 + 2) * 9..<(1 * 4 + 3) * 9]) == [16, 2, 3, 16, 6, 7, 16, 10, 11])
        // Output (0, 0): padding and group agree.
        #expect(Array(indices[0..<9]) == [16, 16, 16, 16, 0, 1, 16, 4, 5])
        #expect(plan.gatherIndices(groups: nil) != indices)
    }
}
