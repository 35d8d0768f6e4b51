import MixKit
import MixKitTesting
import MixPVT
import Testing

@Suite struct DropPathTests {
    /// A block in training runs each branch on the samples drop path keeps, its norm reading them in place: the
    /// same output, input gradient and parameter gradients as the composed form
    /// `y = x + dropPath(attn(norm1(x)))`, `y + dropPath(mlp(norm2(y)))`, computed by a twin block (same seed, so
    /// the same weights and the same generator state), with and without a mixing mask.
    @Test(arguments: [false, true]) func keptSamplesGiveTheComposedFormsValuesAndGradients(mixed: Bool) {
        let mask = mixed ? MixingMask(height: 2, width: 2, values: [0, 1, 1, 0]) : nil
        let (side, batch, dim) = (4, 8, 8)
        func makeBlock() -> PVTBlock {
            PVTBlock(dim: dim, heads: 2, srRatio: 2, mlpHidden: 16, dropPathRate: 0.5, rng: RandomSource(seed: 3))
        }
        let (block, twin) = (makeBlock(), makeBlock())
        let weights = randn([batch, side * side, dim], seed: 5)

        let x = randn([batch, side * side, dim], seed: 4).asParameter()
        let rate = twin.dropPathRate
        let h =
            x
            + dropPath(
                twin.attn(twin.norm1(x), height: side, width: side, mixing: mask), p: rate, training: true,
                using: twin.rng)
        let composed =
            h
            + dropPath(
                twin.mlp(twin.norm2(h), height: side, width: side, mixing: mask), p: rate, training: true,
                using: twin.rng)
        (composed * weights).sum().backward()
        let wantInput = x.grad!.scalars

        x.grad = nil
        let output = block(x, height: side, width: side, mixing: mask)
        (output * weights).sum().backward()

        #expect(maxAbsDiff(output, composed) <= 1e-5, "output")
        // Not every sample dropped by both branches (the output of such a sample is its input): the branches ran.
        let unchanged = (0..<batch).filter { sample in
            let rows = (sample * side * side * dim)..<((sample + 1) * side * side * dim)
            return rows.allSatisfy { output.data[$0] == x.data[$0] }
        }
        #expect(unchanged.count < batch, "every sample dropped in both branches: pick another seed")
        for (got, want) in zip(x.grad!.scalars, wantInput) { #expect(abs(got - want) <= 1e-4 * max(1, abs(want))) }
        for ((name, got), (_, want)) in zip(block.namedParameters(), twin.namedParameters()) {
            let (g, w) = (got.grad?.scalars ?? [], want.grad?.scalars ?? [])
            #expect(g.count == w.count, "\(name): a gradient on one side only")
            let worst = zip(g, w).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-4, "\(name): relative difference \(worst)")
        }
    }
}
