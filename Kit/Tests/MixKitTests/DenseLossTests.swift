import Foundation
import MixKit
import MixKitTesting
import Testing

/// The detection losses: values against their formulas, gradients against finite differences.
@Suite struct DenseLossTests {
    let check = GradientCheck()

    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    @Test func focalLossValues() {
        let logits = Tensor(shape: [3, 2], scalars: [2, -1, -3, 0.5, 0, 4])
        let labels = [0, 1, -1]  // row 2 is background
        let loss = sigmoidFocalLoss(logits, labels: labels, alpha: 0.25, gamma: 2)
        #expect(loss.shape == [3, 2])
        for r in 0..<3 {
            for c in 0..<2 {
                let p = sigmoid(Double(logits.scalars[r * 2 + c]))
                let want =
                    labels[r] == c ? -0.25 * (1 - p) * (1 - p) * log(p) : -0.75 * p * p * log(1 - p)
                #expect(abs(Double(loss.scalars[r * 2 + c]) - want) < 1e-5, "row \(r) class \(c)")
            }
        }
        // gamma 0 and alpha 0.5 is half the plain binary cross-entropy.
        let plain = sigmoidFocalLoss(logits, labels: labels, alpha: 0.5, gamma: 0)
        let targets = Tensor(shape: [3, 2], scalars: [1, 0, 0, 1, 0, 0])
        let bce = binaryCrossEntropyWithLogits(logits, targets: targets)
        #expect(maxAbsDiff(plain * 2, bce) < 1e-5)
    }

    @Test func focalLossGradients() {
        let logits = randn([6, 4], seed: 3, scale: 2)
        check.expect([logits]) { sigmoidFocalLoss($0[0], labels: [0, 3, -1, 1, -1, 2]) }
        check.expect([logits.copy()]) { sigmoidFocalLoss($0[0], labels: [1, 1, 1, -1, 0, 0], alpha: 0.4, gamma: 1.5) }
    }

    @Test func binaryCrossEntropyValuesAndGradients() {
        let logits = Tensor([-30, -1, 0, 2, 40])
        let targets = Tensor([0, 0.3, 1, 0.5, 1])
        let loss = binaryCrossEntropyWithLogits(logits, targets: targets)
        for i in 0..<5 {
            let x = Double(logits.scalars[i])
            let t = Double(targets.scalars[i])
            let want = -(t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x)))
            let stable = max(x, 0) - x * t + log(1 + exp(-abs(x)))
            #expect(abs(Double(loss.scalars[i]) - (want.isFinite ? want : stable)) < 1e-5, "element \(i)")
        }
        let wanted = Tensor.randomUniform([8], using: RandomSource(seed: 3))
        check.expect([randn([8], seed: 4, scale: 2)]) { binaryCrossEntropyWithLogits($0[0], targets: wanted) }
    }

    @Test func giouLossValues() {
        let pred = Tensor(shape: [3, 4], scalars: [0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 1, 1])
        let target = Tensor(shape: [3, 4], scalars: [1, 1, 3, 3, 0, 0, 2, 2, 2, 3, 4, 5])
        let loss = giouLoss(pred, target).scalars
        // Overlap 1, union 7, enclosing 9: GIoU = 1/7 - 2/9.
        #expect(abs(Double(loss[0]) - (1 - (1.0 / 7 - 2.0 / 9))) < 1e-6)
        #expect(abs(loss[1]) < 1e-6)
        // Disjoint: IoU 0, union 1 + 4 = 5, enclosing 4 x 5 = 20: GIoU = -15/20.
        #expect(abs(Double(loss[2]) - 1.75) < 1e-6)
    }

    @Test func giouLossGradients() {
        // Overlapping, nested, disjoint and partly overlapping pairs, edges apart by more than the step.
        let target = Tensor(
            shape: [4, 4], scalars: [1, 1, 3, 3, 0, 0, 4, 4, 2, 3, 4, 5, 1.1, 0.3, 2.8, 3.6])
        let pred = Tensor(shape: [4, 4], scalars: [0, 0, 2, 2, 1, 1, 2, 3, 0, 0, 1, 1, 0.5, 1.5, 3.7, 2.9])
        check.expect([pred]) { giouLoss($0[0], target) }
        // Through the FCOS decoding: boxes (-l, -t, r, b) around a point from distances.
        let distances = Tensor(shape: [2, 4], scalars: [1.5, 2, 3, 1, 2, 2, 2, 2])
        let wanted = Tensor(shape: [2, 4], scalars: [-2, -1.2, 2.5, 1.7, -1, -3, 3, 1])
        let signs = Tensor([-1, -1, 1, 1])
        check.expect([distances]) { giouLoss($0[0] * signs, wanted) }
    }
}
