import MixKit
import MixKitTesting
import Testing

/// MixingMask's `mix` and `unmix`, each one op (`BatchMixing`), against the multiplies, flip and add they replace:
/// the value and the gradient bit for bit, then the gradients against finite differences.
@Suite struct BatchMixingTests {
    /// A 2x2 mask read on a 4x4 grid (16 tokens): every token's weight is 0 or 1, as MixMAE's are.
    let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])

    /// Three images: the middle one is mixed with itself.
    @Test func mixIsTheMultipliesAndTheFlip() {
        let tokens = randn([3, 16, 5], seed: 1)
        let m = mask.tensor(height: 4, width: 4)
        expectSame(
            { mask.mix($0, height: 4, width: 4) }, { $0 * (1 - m) + $0.flipped(axis: 0) * m }, input: tokens,
            upstream: randn([3, 16, 5], seed: 2))
    }

    @Test func unmixIsTheSlicesMultipliesAndTheFlip() {
        let reconstruction = randn([6, 16, 7], seed: 3)
        let m = mask.tensor(height: 4, width: 4)
        expectSame(
            { mask.unmix($0, height: 4, width: 4) },
            { $0.slice(axis: 0, 0..<3) * m + $0.slice(axis: 0, 3..<6).flipped(axis: 0) * (1 - m) },
            input: reconstruction, upstream: randn([3, 16, 7], seed: 4))
    }

    /// The unmixed batch takes each token from the branch the mask names: the first branch's image where the mask
    /// is 1, else the second branch's reversed partner.
    @Test func unmixTakesEachTokenFromItsBranch() {
        let reconstruction = randn([4, 16, 3], seed: 5)
        let unmixed = mask.unmix(reconstruction, height: 4, width: 4).scalars
        let weights = mask.upsampled(height: 4, width: 4)
        let all = reconstruction.scalars
        for b in 0..<2 {
            for t in 0..<16 {
                let source = weights[t] == 1 ? b : 2 + (1 - b)
                let want = Array(all[((source * 16) + t) * 3..<((source * 16) + t + 1) * 3])
                #expect(Array(unmixed[(b * 16 + t) * 3..<(b * 16 + t + 1) * 3]) == want, "image \(b), token \(t)")
            }
        }
    }

    /// The rows `hiddenRows` names are the ones `unmix` reads, in its output's order: gathering them gives the
    /// unmixed batch bit for bit (a 2x2 mask at a 4x4 grid, and with the mask all 1 and all 0).
    @Test func hiddenRowsAreTheRowsUnmixReads() {
        let reconstruction = randn([6, 16, 5], seed: 8)
        let all = MixingMask(height: 1, width: 1, values: [1])
        let none = MixingMask(height: 1, width: 1, values: [0])
        for m in [mask, all, none] {
            let rows = m.hiddenRows(batch: 3, height: 4, width: 4)
            let gathered = reconstruction.reshaped([96, 5]).indexSelect(axis: 0, indices: rows)
            #expect(gathered.scalars == m.unmix(reconstruction, height: 4, width: 4).scalars, "mask \(m.values)")
        }
        #expect(all.hiddenRows(batch: 2, height: 1, width: 2) == [0, 1, 2, 3])
        #expect(none.hiddenRows(batch: 2, height: 1, width: 2) == [6, 7, 4, 5])
        let split = MixingMask(height: 1, width: 2, values: [1, 0])
        #expect(split.hiddenRows(batch: 2, height: 1, width: 2) == [0, 7, 2, 5])
    }

    @Test func gradientsMatchFiniteDifferences() {
        let check = GradientCheck(samplesPerInput: 12)
        let mixed = check.check([randn([3, 16, 4], seed: 6)]) { mask.mix($0[0], height: 4, width: 4) }
        #expect(mixed.passed, "\(mixed)")
        let unmixed = check.check([randn([4, 16, 4], seed: 7)]) { mask.unmix($0[0], height: 4, width: 4) }
        #expect(unmixed.passed, "\(unmixed)")
    }

    private func expectSame(
        _ fused: (Tensor) -> Tensor, _ composed: (Tensor) -> Tensor, input: Tensor, upstream: Tensor,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        func run(_ f: (Tensor) -> Tensor) -> (value: [Float], gradient: [Float]) {
            let leaf = input.copy()
            leaf.requiresGrad = true
            let value = f(leaf)
            (value * upstream).sum().backward()
            return (value.scalars, leaf.grad?.scalars ?? [])
        }
        let (got, want) = (run(fused), run(composed))
        #expect(got.value == want.value, "value", sourceLocation: sourceLocation)
        #expect(!got.gradient.isEmpty && got.gradient == want.gradient, "gradient", sourceLocation: sourceLocation)
    }
}
