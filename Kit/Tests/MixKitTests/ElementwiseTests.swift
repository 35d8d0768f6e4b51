import Foundation
import MixKit
import MixKitTesting
import Testing

@Suite struct ElementwiseTests {
    let check = GradientCheck()

    @Test func broadcastingArithmeticForward() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor([10, 20, 30])
        #expect((a + b).scalars == [11, 22, 33, 14, 25, 36])
        #expect((a - b).scalars == [-9, -18, -27, -6, -15, -24])
        let c = Tensor(shape: [2, 1], scalars: [2, 4])
        #expect((a * c).scalars == [2, 4, 6, 16, 20, 24])
        #expect((a / c).scalars == [0.5, 1, 1.5, 1, 1.25, 1.5])
        let d = Tensor(shape: [3, 1, 2], scalars: [1, 2, 3, 4, 5, 6])
        let e = Tensor(shape: [1, 2, 1], scalars: [10, 100])
        #expect((d + e).shape == [3, 2, 2])
        #expect((d + e).scalars == [11, 12, 101, 102, 13, 14, 103, 104, 15, 16, 105, 106])
        #expect((2 - a).scalars == [1, 0, -1, -2, -3, -4])
        #expect((a * 0.5 + 1).scalars == [1.5, 2, 2.5, 3, 3.5, 4])
    }

    @Test func broadcastGradients() {
        check.expect([randn([3, 4], seed: 1), randn([4], seed: 2)]) { $0[0] + $0[1] }
        check.expect([randn([3, 4], seed: 1), randn([3, 1], seed: 2)]) { $0[0] - $0[1] }
        check.expect([randn([2, 3, 4], seed: 1), randn([1, 3, 1], seed: 2)]) { $0[0] * $0[1] }
        check.expect([randn([2, 3], seed: 1), randn([3], seed: 2) + 3]) { $0[0] / $0[1] }
        check.expect([randn([2, 1, 4], seed: 3), randn([3, 1], seed: 4)]) { $0[0] * $0[1] + $0[0] }
        check.expect([randn([5], seed: 5)]) { (2 - $0[0] * 3) / 4 + 1 }
        check.expect([randn([4, 3], seed: 6), randn([4, 3], seed: 7)]) { maximum($0[0], $0[1]) }
    }

    @Test func unaryValuesMatchFoundation() {
        let x = Tensor(shape: [7], scalars: [-3, -1.5, -0.2, 0, 0.3, 1.7, 4])
        let ex = x.exp().scalars
        let er = x.erf().scalars
        let g = x.gelu().scalars
        let sg = x.sigmoid().scalars
        for i in 0..<x.count {
            let v = Double(x.data[i])
            #expect(abs(Double(ex[i]) - Foundation.exp(v)) <= 2e-7 * Foundation.exp(v))
            #expect(abs(Double(er[i]) - Foundation.erf(v)) <= 3e-7)
            #expect(abs(Double(g[i]) - 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))) <= 1e-6 * max(1, abs(v)))
            #expect(abs(Double(sg[i]) - 1 / (1 + Foundation.exp(-v))) <= 1e-7)
        }
        #expect(Tensor([-100]).exp().item() == 0)
    }

    @Test func unaryGradients() {
        let x = randn([3, 5], seed: 11)
        let positive = x.abs() + 0.5
        check.expect([x.copy()]) { $0[0].exp() }
        check.expect([positive.copy()]) { $0[0].log() }
        check.expect([positive.copy()]) { $0[0].sqrt() }
        check.expect([x.copy()]) { $0[0].tanh() }
        check.expect([x.copy()]) { $0[0].erf() }
        check.expect([positive.copy()]) { $0[0].pow(1.5) }
        check.expect([x.copy()]) { $0[0].square() }
        check.expect([x.copy()]) { $0[0].sigmoid() }
        check.expect([x.copy()]) { $0[0].gelu() }
        check.expect([x.copy()]) { -$0[0] }
        // Away from the kinks, so finite differences are defined.
        let away = Tensor(shape: [6], scalars: [-2, -0.7, -0.3, 0.4, 0.9, 2.2])
        check.expect([away.copy()]) { $0[0].relu() }
        check.expect([away.copy()]) { $0[0].abs() }
        check.expect([away.copy()]) { $0[0].clamped(min: -1, max: 1) }
    }
}
