import Foundation
import MixKit
import Testing

@Suite struct OptimizerTests {
    @Test func adamWMatchesPyTorchFormula() throws {
        let p = Tensor([1, -2, 3]).asParameter(named: "w")
        let opt = AdamW(
            groups: [ParameterGroup(name: "all", parameters: [("w", p)], weightDecay: 0.1)], learningRate: 0.01,
            betas: (0.9, 0.95), eps: 1e-8)
        var ref = [1.0, -2.0, 3.0]
        var m = [0.0, 0.0, 0.0]
        var v = [0.0, 0.0, 0.0]
        for step in 1...3 {
            let grads = ref.map { 2 * $0 + 0.5 }
            p.grad = Tensor(grads.map { Float($0) })
            opt.step()
            for i in 0..<3 {
                ref[i] *= 1 - 0.01 * 0.1
                m[i] = 0.9 * m[i] + 0.1 * grads[i]
                v[i] = 0.95 * v[i] + 0.05 * grads[i] * grads[i]
                let bc1 = 1 - pow(0.9, Double(step))
                let bc2 = 1 - pow(0.95, Double(step))
                ref[i] -= 0.01 / bc1 * m[i] / (v[i].squareRoot() / bc2.squareRoot() + 1e-8)
            }
        }
        for i in 0..<3 { #expect(abs(Double(p.data[i]) - ref[i]) < 1e-5) }
    }

    @Test func adamWStateRoundTripContinuesExactly() throws {
        func makeRun() -> (Tensor, AdamW) {
            let p = Tensor([0.5, -1.5]).asParameter()
            return (
                p,
                AdamW(groups: [ParameterGroup(name: "g", parameters: [("p", p)], weightDecay: 0.05)], learningRate: 0.1)
            )
        }
        let (p1, o1) = makeRun()
        for _ in 0..<4 {
            p1.grad = p1 * 2
            o1.step()
        }
        let (p2, o2) = makeRun()
        for _ in 0..<2 {
            p2.grad = p2 * 2
            o2.step()
        }
        let (p3, o3) = makeRun()
        p3.assign(p2)
        try o3.load(stateDict: o2.stateDict())
        for _ in 0..<2 {
            p3.grad = p3 * 2
            o3.step()
        }
        #expect(p3.scalars == p1.scalars)
        #expect(o3.stepCount == 4)
    }

    @Test func sgdMomentumAndGroups() {
        let a = Tensor([1]).asParameter()
        let b = Tensor([1]).asParameter()
        let opt = SGD(
            groups: [
                ParameterGroup(name: "a", parameters: [("a", a)], weightDecay: 0),
                ParameterGroup(name: "b", parameters: [("b", b)], lrScale: 0.5, weightDecay: 0),
            ], learningRate: 0.1, momentum: 0.9)
        a.grad = Tensor([1])
        b.grad = Tensor([1])
        opt.step()
        opt.step()
        // buf: 1, then 1.9; a = 1 - 0.1 * (1 + 1.9)
        #expect(abs(a.item() - 0.71) < 1e-6)
        #expect(abs(b.item() - 0.855) < 1e-6)
    }

    @Test func schedulesAndClipping() {
        let s = WarmupCosineSchedule(baseLR: 1, minLR: 0.1, warmupEpochs: 2, epochs: 10)
        #expect(s.learningRate(atEpoch: 1) == 0.5)
        #expect(abs(s.learningRate(atEpoch: 2) - 1) < 1e-12)
        #expect(abs(s.learningRate(atEpoch: 6) - 0.55) < 1e-12)
        #expect(abs(s.learningRate(atEpoch: 10) - 0.1) < 1e-12)
        let st = StepSchedule(baseLR: 1, milestones: [3, 6], gamma: 0.1)
        #expect(abs(st.learningRate(atEpoch: 4) - 0.1) < 1e-12)
        #expect(abs(st.learningRate(atEpoch: 7) - 0.01) < 1e-12)
        let p = Tensor([0, 0]).asParameter()
        p.grad = Tensor([3, 4])
        let norm = clipGradientNorm([p], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(p.grad!.data[0] - 0.6) < 1e-5)
        #expect(
            ParameterGroup.decayAndNoDecay(TinyModel(rng: RandomSource(seed: 0)).namedParameters(), weightDecay: 0.05)[
                0
            ].parameters
                .allSatisfy { $0.1.rank >= 2 })
    }

    /// A two-layer MLP learns two concentric rings (not linearly separable).
    @Test func smallModelLearnsWithAdamW() {
        var rng = RandomGenerator(seed: 9)
        var xs: [Float] = []
        var labels: [Int] = []
        for i in 0..<256 {
            let label = i % 2
            let radius: Float = label == 0 ? 0.5 : 1.5
            let angle = rng.nextUniform() * 2 * .pi
            let r = radius + (rng.nextUniform() - 0.5) * 0.3
            xs += [r * cos(angle), r * sin(angle)]
            labels.append(label)
        }
        let x = Tensor(shape: [256, 2], scalars: xs)
        let model = RandomSource(seed: 5)
        let fc1 = Linear(2, 32, rng: model)
        let fc2 = Linear(32, 2, rng: model)
        let named = [
            ("fc1.weight", fc1.weight), ("fc1.bias", fc1.bias!), ("fc2.weight", fc2.weight), ("fc2.bias", fc2.bias!),
        ]
        let opt = AdamW(groups: ParameterGroup.decayAndNoDecay(named, weightDecay: 0.01), learningRate: 0.02)
        var first: Float = 0
        var last: Float = 0
        for step in 0..<300 {
            let loss = crossEntropy(fc2(fc1(x).gelu()), labels: labels)
            if step == 0 { first = loss.item() }
            last = loss.item()
            opt.zeroGrad()
            loss.backward()
            opt.step()
        }
        #expect(first > 0.6)
        #expect(last < 0.05, "loss fell from \(first) to \(last)")
        let predictions = withNoGrad { fc2(fc1(x).gelu()) }
        var correct = 0
        for i in 0..<256 where (predictions.data[2 * i + 1] > predictions.data[2 * i] ? 1 : 0) == labels[i] {
            correct += 1
        }
        #expect(correct >= 250)
    }
}
