import Foundation
import MixKit
import MixKitTesting
import Testing

@Suite struct NeuralTests {
    let check = GradientCheck()

    /// Naive row-major matmul for checking BLAS calls.
    func naiveMatmul(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        return c
    }

    @Test func matmulMatchesNaiveForEveryTransposeCombination() {
        let a = randn([3, 4], seed: 1)
        let b = randn([4, 5], seed: 2)
        let want = naiveMatmul(a.scalars, b.scalars, m: 3, n: 5, k: 4)
        let got = [
            matmul(a, b),
            matmul(a.transposed().copy(), b, transposeA: true),
            matmul(a, b.transposed().copy(), transposeB: true),
            matmul(a.transposed().copy(), b.transposed().copy(), transposeA: true, transposeB: true),
        ]
        for g in got {
            #expect(g.shape == [3, 5])
            for i in 0..<15 { #expect(abs(g.scalars[i] - want[i]) < 1e-5) }
        }
    }

    @Test func matmulGradients() {
        for ta in [false, true] {
            for tb in [false, true] {
                let a = randn(ta ? [4, 3] : [3, 4], seed: 1)
                let b = randn(tb ? [5, 4] : [4, 5], seed: 2)
                check.expect([a, b]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
                // Batched, and with one matrix shared by the batch.
                let ba = randn([2, 3] + (ta ? [4, 3] : [3, 4]), seed: 3)
                let bb = randn([2, 3] + (tb ? [5, 4] : [4, 5]), seed: 4)
                check.expect([ba, bb]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
                check.expect([ba.copy(), b.copy()]) { matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
            }
        }
        // Many small problems take the threaded path.
        check.expect([randn([64, 8, 6], seed: 5), randn([64, 6, 7], seed: 6)]) { matmul($0[0], $0[1]) }
    }

    @Test func threadedGEMMsMatchNaiveForEveryTransposeAndSplit() {
        // Above the threading threshold: M >= N cuts rows, M < N cuts columns.
        for (m, n, k) in [(300, 40, 50), (40, 300, 50), (257, 255, 33)] {
            let a = randn([m, k], seed: 11)
            let b = randn([k, n], seed: 12)
            let want = naiveMatmul(a.scalars, b.scalars, m: m, n: n, k: k)
            let got = [
                matmul(a, b),
                matmul(a.transposed().copy(), b, transposeA: true),
                matmul(a, b.transposed().copy(), transposeB: true),
                matmul(a.transposed().copy(), b.transposed().copy(), transposeA: true, transposeB: true),
                linear(a, weight: b.transposed().copy(), bias: Tensor.zeros([n])),
            ]
            for g in got {
                #expect(g.shape == [m, n])
                var worst: Float = 0
                for i in 0..<(m * n) { worst = max(worst, abs(g.data[i] - want[i])) }
                #expect(worst < 1e-3, "\(m)x\(n)x\(k): max error \(worst)")
            }
        }
    }

    /// Above the threading threshold the input and weight gradients run at the same time, each on its share of
    /// the threads (the weight gradient's reduction runs over all 300 rows); alone, each is cut over all of them.
    /// Both against float64 sums, with either gradient wanted alone too.
    @Test func linearGradientsMatchFloat64WhenComputedTogetherOrAlone() {
        let (rows, inFeatures, outFeatures) = (300, 64, 70)
        let upstream = randn([rows, outFeatures], seed: 13)
        for (wantX, wantW) in [(true, true), (true, false), (false, true)] {
            let x = randn([rows, inFeatures], seed: 11)
            let w = randn([outFeatures, inFeatures], seed: 12)
            x.requiresGrad = wantX
            w.requiresGrad = wantW
            (linear(x, weight: w, bias: nil) * upstream).sum().backward()
            let (xs, ws, gs) = (x.scalars, w.scalars, upstream.scalars)
            if wantX {
                let worst = worstError(of: x.grad!.scalars, rows: rows, columns: inFeatures, terms: outFeatures) {
                    r, i, o in Double(gs[r * outFeatures + o]) * Double(ws[o * inFeatures + i])
                }
                #expect(worst < 1e-4, "input gradient (weight gradient too: \(wantW)): max error \(worst)")
            } else {
                #expect(x.grad == nil)
            }
            if wantW {
                let worst = worstError(of: w.grad!.scalars, rows: outFeatures, columns: inFeatures, terms: rows) {
                    o, i, r in Double(gs[r * outFeatures + o]) * Double(xs[r * inFeatures + i])
                }
                #expect(worst < 1e-3, "weight gradient (input gradient too: \(wantX)): max error \(worst)")
            } else {
                #expect(w.grad == nil)
            }
        }
    }

    /// The largest difference between `got` (a row-major `rows` x `columns` matrix) and its float64 reference,
    /// element (r, c) being the sum of `term(r, c, t)` over `t < terms`.
    func worstError(
        of got: [Float], rows: Int, columns: Int, terms: Int, _ term: (Int, Int, Int) -> Double
    ) -> Double {
        var worst = 0.0
        for r in 0..<rows {
            for c in 0..<columns {
                var want = 0.0
                for t in 0..<terms { want += term(r, c, t) }
                worst = max(worst, abs(Double(got[r * columns + c]) - want))
            }
        }
        return worst
    }

    @Test func linearMatchesMatmulAndHasGradients() {
        let x = randn([2, 3, 4], seed: 1)
        let w = randn([5, 4], seed: 2)
        let b = randn([5], seed: 3)
        let y = linear(x, weight: w, bias: b)
        let ref = matmul(x, w, transposeB: true) + b
        #expect(maxAbsDiff(y, ref) < 1e-5)
        check.expect([x, w, b]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        check.expect([x.copy(), w.copy()]) { linear($0[0], weight: $0[1], bias: nil) }
    }

    @Test func softmaxValuesAndGradients() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 0, 0, 0])
        let s = x.softmax().scalars
        let e = [Foundation.exp(1.0), Foundation.exp(2.0), Foundation.exp(3.0)]
        let z = e.reduce(0, +)
        for i in 0..<3 { #expect(abs(Double(s[i]) - e[i] / z) < 1e-6) }
        #expect(abs(s[3] - 1.0 / 3) < 1e-6)
        let ls = x.logSoftmax().scalars
        for i in 0..<6 { #expect(abs(Foundation.exp(Double(ls[i])) - Double(s[i])) < 1e-6) }
        check.expect([randn([3, 5], seed: 1)]) { $0[0].softmax() }
        check.expect([randn([3, 5, 2], seed: 2)]) { $0[0].softmax(axis: 1) }
        check.expect([randn([3, 5], seed: 3)]) { $0[0].logSoftmax() }
        check.expect([randn([4, 3, 2], seed: 4)]) { $0[0].logSoftmax(axis: 0) }
    }

    @Test func layerNormValuesAndGradients() {
        let x = randn([4, 6], seed: 1, scale: 3)
        let w = randn([6], seed: 2)
        let b = randn([6], seed: 3)
        let y = layerNorm(x, weight: w, bias: b)
        // Reference in double: biased variance, eps 1e-5.
        for r in 0..<4 {
            let row = (0..<6).map { Double(x.data[r * 6 + $0]) }
            let mu = row.reduce(0, +) / 6
            let v = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 6
            for j in 0..<6 {
                let want = (row[j] - mu) / (v + 1e-5).squareRoot() * Double(w.data[j]) + Double(b.data[j])
                #expect(abs(Double(y.data[r * 6 + j]) - want) < 1e-5)
            }
        }
        check.expect([x, w, b]) { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
        check.expect([randn([2, 3, 8], seed: 5)]) { layerNorm($0[0], weight: nil, bias: nil) }
        // Large enough for the threaded path with partial sums.
        GradientCheck(samplesPerInput: 8).expect([
            randn([600, 64], seed: 6), randn([64], seed: 7), randn([64], seed: 8),
        ]) {
            layerNorm($0[0], weight: $0[1], bias: $0[2])
        }
    }

    /// Widths that take every branch of the vector kernel (under one vector, one, an odd number of vectors, a
    /// remainder past the last whole vector, the models' 32 to 768), against LayerNorm in double precision, with
    /// and without the affine part, rows offset from 0 so the mean matters.
    @Test(arguments: [5, 8, 16, 24, 40, 48, 96, 200, 512, 768])
    func layerNormMatchesDoublePrecisionAtEveryWidth(columns: Int) {
        let rows = 37
        let x = randn([rows, columns], seed: UInt64(columns), scale: 2)
        for i in 0..<x.count { x.data[i] += 3 }
        let w = randn([columns], seed: 11)
        let b = randn([columns], seed: 12)
        for affine in [true, false] {
            let y = affine ? layerNorm(x, weight: w, bias: b) : layerNorm(x, weight: nil, bias: nil)
            var worst = 0.0
            for r in 0..<rows {
                let row = (0..<columns).map { Double(x.data[r * columns + $0]) }
                let mu = row.reduce(0, +) / Double(columns)
                let variance = row.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(columns)
                for j in 0..<columns {
                    var want = (row[j] - mu) / (variance + 1e-5).squareRoot()
                    if affine { want = want * Double(w.data[j]) + Double(b.data[j]) }
                    worst = Swift.max(worst, abs(Double(y.data[r * columns + j]) - want))
                }
            }
            #expect(worst < 1e-5, "\(columns) columns, affine \(affine): off by \(worst)")
        }
    }

    @Test func attentionSoftmaxMasksOtherGroupAndAddsBias() {
        // One window of 4 tokens, 1 head; tokens 0,1 are image A and 2,3 image B.
        let scores = randn([1, 1, 4, 4], seed: 1)
        let bias = randn([1, 4, 4], seed: 2)
        let groups: [UInt8] = [0, 0, 1, 1]
        let p = attentionSoftmax(scores, bias: bias, groups: groups)
        let ref = (scores + bias).scalars
        for i in 0..<4 {
            let allowed = (0..<4).filter { groups[$0] == groups[i] }
            let z = allowed.map { Foundation.exp(Double(ref[i * 4 + $0])) }.reduce(0, +)
            for j in 0..<4 {
                let want = allowed.contains(j) ? Foundation.exp(Double(ref[i * 4 + j])) / z : 0
                #expect(abs(Double(p.data[i * 4 + j]) - want) < 1e-6)
            }
        }
    }

    @Test func attentionSoftmaxGradients() {
        let groups: [UInt8] = [0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0]
        check.expect([randn([4, 2, 6, 6], seed: 1), randn([2, 6, 6], seed: 2)]) {
            attentionSoftmax($0[0], bias: $0[1], groups: groups, period: 2)
        }
        check.expect([randn([3, 2, 5, 5], seed: 3)]) { attentionSoftmax($0[0], bias: nil, groups: nil) }
        GradientCheck(samplesPerInput: 8).expect([randn([40, 3, 16, 16], seed: 4), randn([3, 16, 16], seed: 5)]) {
            attentionSoftmax($0[0], bias: $0[1], groups: nil)
        }
    }

    @Test func crossEntropyAndLosses() {
        let logits = Tensor([[2, 1, 0], [0, 0, 5]])
        let ce = crossEntropy(logits, labels: [0, 1])
        let l0 = -Foundation.log(Foundation.exp(2.0) / (Foundation.exp(2.0) + Foundation.exp(1.0) + 1))
        let l1 = -Foundation.log(1 / (2 + Foundation.exp(5.0)))
        #expect(abs(Double(ce.item()) - (l0 + l1) / 2) < 1e-5)
        let ignored = crossEntropy(logits, labels: [0, 255], ignoreIndex: 255)
        #expect(abs(Double(ignored.item()) - l0) < 1e-5)
        check.expect([randn([4, 5], seed: 1)]) { crossEntropy($0[0], labels: [1, 0, 4, 2]) }
        check.expect([randn([4, 5], seed: 1)]) { crossEntropy($0[0], labels: [1, -1, 4, -1], ignoreIndex: -1) }
        let targets = randn([3, 4], seed: 2).softmax()
        check.expect([randn([3, 4], seed: 3)]) { softCrossEntropy($0[0], targets: targets) }
        check.expect([randn([3, 4], seed: 3), randn([3, 4], seed: 4)]) { mseLoss($0[0], $0[1]) }
        // Soft targets equal to one-hot give the hard loss.
        let oneHot = Tensor([[1, 0, 0], [0, 1, 0]])
        #expect(abs(softCrossEntropy(logits, targets: oneHot).item() - ce.item()) < 1e-5)
    }

    @Test func dropoutAndDropPathReuseTheirMask() {
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.ones([8, 4]).asParameter()
        let y = dropPath(x, p: 0.5, training: true, using: &rng)
        y.sum().backward()
        // Each sample is all-zero or all-2, and its gradient equals its mask.
        for r in 0..<8 {
            let row = Array(y.scalars[(r * 4)..<(r * 4 + 4)])
            #expect(row == [0, 0, 0, 0] || row == [2, 2, 2, 2])
            #expect(Array(x.grad!.scalars[(r * 4)..<(r * 4 + 4)]) == row)
        }
        let z = Tensor.ones([1000]).asParameter()
        let d = dropout(z, p: 0.25, training: true, using: &rng)
        d.sum().backward()
        #expect(d.scalars == z.grad!.scalars)
        let kept = d.scalars.filter { $0 != 0 }.count
        #expect(kept > 680 && kept < 820)
        #expect(dropout(z, p: 0.25, training: false, using: &rng) === z)
    }

    @Test func dropPathResidualMatchesTheComposedFormAndSkipsDroppedSamples() {
        let layer = Linear(4, 4, rng: RandomSource(seed: 1))
        let branch: (Tensor) -> Tensor = { layer($0).gelu() }
        let x = randn([8, 3, 4], seed: 2).asParameter()
        let weights = randn([8, 3, 4], seed: 3)
        let composed = x + dropPath(branch(x), p: 0.5, training: true, using: RandomSource(seed: 7))
        (composed * weights).sum().backward()
        let (xGrad, weightGrad, biasGrad) = (x.grad!.scalars, layer.weight.grad!.scalars, layer.bias!.grad!.scalars)
        x.grad = nil
        layer.zeroGrad()

        var batches: [Int] = []
        let skipping = dropPathResidual(x, p: 0.5, training: true, using: RandomSource(seed: 7)) {
            batches.append($0.shape[0])
            return branch($0)
        }
        (skipping * weights).sum().backward()
        // The same draw keeps the same samples: the branch ran once, on those only.
        let keptInComposed = (0..<8).filter { r in
            (0..<12).contains { composed.scalars[r * 12 + $0] != x.scalars[r * 12 + $0] }
        }
        #expect(keptInComposed.count > 0 && keptInComposed.count < 8)
        #expect(batches == [keptInComposed.count])
        for (got, want) in zip(skipping.scalars, composed.scalars) {
            #expect(abs(got - want) <= 1e-6 * max(1, abs(want)))
        }
        for (got, want) in zip(x.grad!.scalars, xGrad) { #expect(abs(got - want) <= 1e-6 * max(1, abs(want))) }
        for (got, want) in zip(layer.weight.grad!.scalars, weightGrad) {
            #expect(abs(got - want) <= 1e-5 * max(1, abs(want)))
        }
        for (got, want) in zip(layer.bias!.grad!.scalars, biasGrad) {
            #expect(abs(got - want) <= 1e-5 * max(1, abs(want)))
        }

        check.expect([randn([8, 3, 4], seed: 4)]) { inputs in
            dropPathResidual(inputs[0], p: 0.5, training: true, using: RandomSource(seed: 7)) { branch($0) }
        }
        // Outside training the branch runs on every sample, unscaled.
        let evaluated = dropPathResidual(x, p: 0.5, training: false, using: RandomSource(seed: 7)) { branch($0) }
        #expect(evaluated.scalars == (x + branch(x)).scalars)
    }

    /// The norm of selected samples read in place against the norm of their gathered copy: the same values, and the
    /// same gradients for the input (with and without a gradient it already has), the weight and the bias.
    @Test func layerNormOfSelectedSamplesMatchesTheNormOfTheirCopy() {
        let norm = LayerNorm(6)
        norm.weight.data.update(from: randn([6], seed: 5).data, count: 6)
        norm.bias.data.update(from: randn([6], seed: 6).data, count: 6)
        let samples = [4, 1, 2]
        let upstream = randn([3, 50, 6], seed: 7)
        for carried in [false, true] {
            var results: [[[Float]]] = []
            for inPlace in [false, true] {
                let x = randn([5, 50, 6], seed: 8).asParameter()
                let y = inPlace ? norm(x, samples: samples) : norm(x.indexSelect(axis: 0, indices: samples))
                let loss = (y * upstream).sum() + (carried ? (x * x).sum() : Tensor(scalar: 0))
                loss.backward()
                results.append([y.scalars, x.grad!.scalars, norm.weight.grad!.scalars, norm.bias.grad!.scalars])
                norm.zeroGrad()
            }
            #expect(results[1][0] == results[0][0])
            for (got, want) in zip(results[1][1...].joined(), results[0][1...].joined()) {
                #expect(abs(got - want) <= 1e-5 * max(1, abs(want)), "carried \(carried)")
            }
        }
        check.expect([randn([4, 3, 5], seed: 9)]) { layerNorm($0[0], samples: [3, 0], weight: nil, bias: nil) }
    }

    @Test func preNormDropPathResidualMatchesTheComposedForm() {
        let norm = LayerNorm(4)
        let layer = Linear(4, 4, rng: RandomSource(seed: 1))
        let x = randn([8, 3, 4], seed: 2).asParameter()
        let weights = randn([8, 3, 4], seed: 3)
        let composed = x + dropPath(layer(norm(x)).gelu(), p: 0.5, training: true, using: RandomSource(seed: 7))
        (composed * weights).sum().backward()
        let want = [x.grad!.scalars, layer.weight.grad!.scalars, norm.weight.grad!.scalars, norm.bias.grad!.scalars]
        x.grad = nil
        layer.zeroGrad()
        norm.zeroGrad()
        var batches: [Int] = []
        let skipping = dropPathResidual(x, p: 0.5, training: true, using: RandomSource(seed: 7), normalizedBy: norm) {
            batches.append($0.shape[0])
            return layer($0).gelu()
        }
        (skipping * weights).sum().backward()
        #expect(batches.count == 1 && batches[0] > 0 && batches[0] < 8)
        for (got, wanted) in zip(skipping.scalars, composed.scalars) {
            #expect(abs(got - wanted) <= 1e-6 * max(1, abs(wanted)))
        }
        let got = [x.grad!.scalars, layer.weight.grad!.scalars, norm.weight.grad!.scalars, norm.bias.grad!.scalars]
        for (gotGrads, wantGrads) in zip(got, want) {
            for (g, w) in zip(gotGrads, wantGrads) { #expect(abs(g - w) <= 1e-5 * max(1, abs(w))) }
        }
        check.expect([randn([8, 3, 4], seed: 4)]) { inputs in
            dropPathResidual(inputs[0], p: 0.5, training: true, using: RandomSource(seed: 7), normalizedBy: norm) {
                layer($0).gelu()
            }
        }
    }

    @Test func dropPathResidualGivesZeroGradientsWhenEverySampleIsDropped() throws {
        // A seed whose first draw drops the only sample at p = 0.9.
        let seed = try #require((0..<64).first { RandomSource(seed: $0).nextUniform() < 0.9 })
        let layer = Linear(4, 4, rng: RandomSource(seed: 1))
        let x = randn([1, 3, 4], seed: 2).asParameter()
        let y = dropPathResidual(x, p: 0.9, training: true, using: RandomSource(seed: seed)) { layer($0) }
        y.sum().backward()
        #expect(y.scalars == x.scalars)
        #expect(x.grad!.scalars.allSatisfy { $0 == 1 })
        // As timm's zeroed branch: gradients of zero, not none (AdamW still decays the weights).
        #expect(layer.weight.grad?.scalars.allSatisfy { $0 == 0 } == true)
        #expect(layer.bias?.grad?.scalars.allSatisfy { $0 == 0 } == true)
    }
}
