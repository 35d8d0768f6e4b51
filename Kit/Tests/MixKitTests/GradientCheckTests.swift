import Foundation
import MixKit
import MixKitTesting
import Testing

/// `log(1 + e^x)`, element-wise; d/dx = sigmoid(x). (The example of the "Write an op" article.)
func softplus(_ x: Tensor) -> Tensor {
    defineOp("softplus", x) { op in
        let y = Tensor.zeros(x.shape)
        let (px, py) = (x.data, y.data)
        // Threaded over ranges of elements; `work` says how much there is to split.
        Parallel.forRanges(x.count, work: x.count * 8) { lo, hi in
            for i in lo..<hi { py[i] = max(px[i], 0) + log1p(exp(-abs(px[i]))) }
        }
        return OpResult(y) { g in [g * x.sigmoid()] }
    }
}

/// ``softplus(_:)`` with a backward off by the relative `error`.
func softplus(_ x: Tensor, backwardError error: Float) -> Tensor {
    defineOp("softplus", x) { _ in
        let y = withNoGrad { softplus(x) }
        return OpResult(y) { g in [g * x.sigmoid() * (1 + error)] }
    }
}

/// The checker itself: it must pass what is right whatever the rounding noise, and
/// fail what is wrong.
@Suite struct GradientCheckTests {
    @Test func aRightBackwardPassesAndAWrongOneFails() {
        let right = GradientCheck().check([randn([3, 4], seed: 1)]) { softplus($0[0]) }
        #expect(right.passed, "\(right)")
        #expect(right.samples.count == 12 && right.samples.allSatisfy(\.isConclusive))
        // 10% too large: every conclusive sample is off by about 0.1 |d|.
        let wrong = GradientCheck().check([randn([3, 4], seed: 1)]) { softplus($0[0], backwardError: 0.1) }
        #expect(!wrong.passed)
        #expect(wrong.failures.count == 12, "\(wrong)")
        #expect(wrong.failures.first?.hasPrefix("gradient of input 0[") == true)
        // A missing gradient is reported by name.
        let constant = randn([2], seed: 2)
        let missing = GradientCheck().check([("x", randn([2], seed: 3)), ("c", constant)]) { randn([2], seed: 3) * 2 }
        #expect(missing.failures.contains("x [2] got no gradient"))
    }

    /// A loss carrying about 1e-5 of deterministic rounding noise (a long float32 sum,
    /// as a whole network gives): a derivative of 1.3e-3 is then below what a step of
    /// 2⁻⁷ can resolve (1e-5 / 2⁻⁷ ≈ 1.3e-3), so it is reported as not conclusive but
    /// passes, while a large derivative with a wrong analytic value still fails.
    @Test func noiseIsMeasuredNotAssumed() {
        let x = Tensor([0.3, -0.7]).asParameter()
        func noise(_ v: Float) -> Double {
            let bits = UInt64(v.bitPattern) &* 0x9E37_79B9_7F4A_7C15
            return (Double(bits >> 11) / 9_007_199_254_740_992 * 2 - 1) * 1e-5
        }
        func loss() -> GradientCheck.LossValue {
            let (a, b) = (x.data[0], x.data[1])
            return .init(value: 1.3e-3 * Double(a) + 2 * Double(b) + noise(a) + noise(b), roundingNoise: 0)
        }
        var rng = RandomGenerator(seed: 1)
        x.grad = Tensor([1.3e-3, 2])
        let right = GradientCheck(relativeTolerance: 5e-2).compare(
            [("x", x)], elements: .sample(2), using: &rng, loss: loss)
        #expect(right.passed, "\(right)")
        let small = right.samples.first { $0.index == 0 }!
        let large = right.samples.first { $0.index == 1 }!
        #expect(!small.isConclusive && large.isConclusive, "\(right.samples)")
        #expect(small.noise > 1e-4, "the noise was measured: \(small)")
        x.grad = Tensor([1.3e-3, 1.8])
        let wrong = GradientCheck(relativeTolerance: 5e-2).compare(
            [("x", x)], elements: .sample(2), using: &rng, loss: loss)
        #expect(wrong.failures.count == 1 && wrong.failures[0].hasPrefix("gradient of x[1]"), "\(wrong)")
    }

    /// An input whose effect on the output is lost in float32 rounding (1e-9 on top of
    /// 1000) verifies nothing, and says so.
    @Test func aCheckThatVerifiesNothingFails() {
        let report = GradientCheck().check([randn([3], seed: 4)]) { $0[0] * 1e-9 + 1000 }
        #expect(!report.passed)
        #expect(report.failures.last?.contains("nothing was verified") == true, "\(report)")
    }
}
