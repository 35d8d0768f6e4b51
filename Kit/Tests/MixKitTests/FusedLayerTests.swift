import MixKit
import MixKitTesting
import Testing

/// The fused ops, `mlp` (GELU applied as fc1's GEMM completes each block, the residual as fc2's does) and `linear`
/// with a residual, against the same layers one op after another: the value and every gradient bit for bit, with
/// and without a graph (GELU in place), on shapes MixKit's GEMM takes (rows cut between threads, a reduction longer
/// than one 384-deep block, several column panels, a last partial micro-tile) and on small ones that OpenBLAS
/// runs (the epilogue then a pass of its own). A narrow layer with many rows runs its backward pass in blocks of
/// rows, which sums the weight and bias gradients in another order: those agree to rounding, the rest bit for bit.
/// Then their gradients against finite differences.
@Suite struct FusedLayerTests {
    let check = GradientCheck(samplesPerInput: 12)

    struct Layer: Sendable, CustomTestStringConvertible {
        var rows: Int, inFeatures: Int, hidden: Int, outFeatures: Int
        /// Whether mlp runs it in blocks of rows on MixKit's GEMM.
        var rowBlocked = false
        var testDescription: String { "\(rows) rows, \(inFeatures) -> \(hidden) -> \(outFeatures)" }
    }

    static let layers = [
        Layer(rows: 7, inFeatures: 5, hidden: 12, outFeatures: 5),
        Layer(rows: 1_031, inFeatures: 64, hidden: 256, outFeatures: 64),
        Layer(rows: 301, inFeatures: 96, hidden: 520, outFeatures: 96),
        // Fewer rows than columns: the GEMMs are cut between threads by columns.
        Layer(rows: 40, inFeatures: 128, hidden: 1_024, outFeatures: 512),
        // Narrow layers with rows enough for mlp's row blocks: forward 5 blocks of 444 rows (the last 427) and
        // backward 8 runs of 264 to 283 rows, the last in two blocks (144 and 139 rows), the others in one; forward 5
        // of 228 (the last 188) and backward 8 runs of one block each, 132 to 144 rows.
        rowBlocked,
        Layer(rows: 1_100, inFeatures: 128, hidden: 512, outFeatures: 96, rowBlocked: true),
        // More blocks (10 of 504 rows, the last 464) than the backward pass's 8 runs (624 to 632 rows): each run
        // adds two blocks into its partial sums.
        Layer(rows: 5_000, inFeatures: 64, hidden: 256, outFeatures: 32, rowBlocked: true),
    ]

    /// A layer that mlp runs forward in 5 blocks of 444 rows, backward in 9 of up to 276.
    static let rowBlocked = Layer(rows: 2_203, inFeatures: 64, hidden: 256, outFeatures: 64, rowBlocked: true)

    @Test(arguments: layers)
    func mlpIsTheLayersOneAfterAnother(_ layer: Layer) throws {
        let inputs = [
            randn([layer.rows, layer.inFeatures], seed: 1),
            randn([layer.hidden, layer.inFeatures], seed: 2, scale: 0.2),
            randn([layer.hidden], seed: 3), randn([layer.outFeatures, layer.hidden], seed: 4, scale: 0.1),
            randn([layer.outFeatures], seed: 5), randn([layer.rows, layer.outFeatures], seed: 6),
        ]
        let upstream = randn([layer.rows, layer.outFeatures], seed: 7)
        let fused: ([Tensor]) -> Tensor = {
            mlp($0[0], fc1Weight: $0[1], fc1Bias: $0[2], fc2Weight: $0[3], fc2Bias: $0[4], adding: $0[5])
        }
        let separate: ([Tensor]) -> Tensor = {
            $0[5] + linear(linear($0[0], weight: $0[1], bias: $0[2]).gelu(), weight: $0[3], bias: $0[4])
        }
        // Row blocks sum the weight and bias gradients (inputs 1 to 4) in another order.
        let summedInBlocks: Set<Int> = layer.rowBlocked ? [1, 2, 3, 4] : []
        try expectSame(fused, separate, inputs: inputs, upstream: upstream, roundedGradients: summedInBlocks)
        // The same without the residual and the biases.
        try expectSame(
            { mlp($0[0], fc1Weight: $0[1], fc1Bias: nil, fc2Weight: $0[2], fc2Bias: nil) },
            { linear(linear($0[0], weight: $0[1], bias: nil).gelu(), weight: $0[2], bias: nil) },
            inputs: [inputs[0], inputs[1], inputs[3]], upstream: upstream,
            roundedGradients: layer.rowBlocked ? [1, 2] : [])
    }

    /// The row-blocked layers above do run in blocks, forward and backward (the profile's GEMM table names them), and
    /// a wide one does not. Where OpenBLAS multiplies (MIXMAE_CPU=portable or MIXMAE_GEMM=openblas) there are no row
    /// blocks.
    @Test(.enabled(if: GEMMKernels.active == .mixkit, "row blocks run on MixKit's GEMM only"))
    func narrowLayersWithManyRowsRunInRowBlocks() {
        func profiledShapes(_ layer: Layer) -> String {
            let x = randn([layer.rows, layer.inFeatures], seed: 41)
            let (w1, w2) = (
                randn([layer.hidden, layer.inFeatures], seed: 42), randn([layer.outFeatures, layer.hidden], seed: 43)
            )
            for leaf in [x, w1, w2] { leaf.requiresGrad = true }
            Profiler.start()
            _ = withNoGrad { mlp(x, fc1Weight: w1, fc1Bias: nil, fc2Weight: w2, fc2Bias: nil) }
            mlp(x, fc1Weight: w1, fc1Bias: nil, fc2Weight: w2, fc2Bias: nil).sum().backward()
            Profiler.stop()
            return Profiler.report()
        }
        let blocked = profiledShapes(Self.rowBlocked)
        #expect(blocked.contains("2203x256x64 Bᵀ, x64 Bᵀ in blocks of 444 rows"), "\(blocked)")
        #expect(blocked.contains("2203x256x64 backward, x64 in blocks of up to 276 rows"), "\(blocked)")
        let whole = profiledShapes(Layer(rows: 1_024, inFeatures: 256, hidden: 1_024, outFeatures: 256))
        #expect(!whole.contains("in blocks of") && whole.contains("1024x1024x256 Bᵀ"), "\(whole)")
    }

    /// Backward in blocks of rows with only some gradients asked for (fc2's alone, the input's alone, the weights'
    /// without the input's): each agrees with the separate layers' (the input's bit for bit, the weights' to
    /// rounding), and the ones not asked for stay nil.
    @Test func rowBlockedBackwardComputesWhatIsAskedFor() throws {
        let layer = Self.rowBlocked
        let x = randn([layer.rows, layer.inFeatures], seed: 51)
        let (w1, b1) = (randn([layer.hidden, layer.inFeatures], seed: 52, scale: 0.2), randn([layer.hidden], seed: 53))
        let (w2, b2) = (
            randn([layer.outFeatures, layer.hidden], seed: 54, scale: 0.1), randn([layer.outFeatures], seed: 55)
        )
        let upstream = randn([layer.rows, layer.outFeatures], seed: 56)
        for wanted: Set<Int> in [[3, 4], [0], [1, 2, 3], [0, 1, 2, 3, 4]] {
            func gradients(_ f: ([Tensor]) -> Tensor) -> [[Float]?] {
                let leaves = [x, w1, b1, w2, b2].map { $0.copy() }
                for (index, leaf) in leaves.enumerated() { leaf.requiresGrad = wanted.contains(index) }
                (f(leaves) * upstream).sum().backward()
                return leaves.map { $0.grad?.scalars }
            }
            let fused = gradients { mlp($0[0], fc1Weight: $0[1], fc1Bias: $0[2], fc2Weight: $0[3], fc2Bias: $0[4]) }
            let separate = gradients {
                linear(linear($0[0], weight: $0[1], bias: $0[2]).gelu(), weight: $0[3], bias: $0[4])
            }
            for index in 0..<5 {
                guard wanted.contains(index) else {
                    #expect(fused[index] == nil, "gradient of input \(index) was not asked for")
                    continue
                }
                let (g, w) = (try #require(fused[index]), try #require(separate[index]))
                let scale = w.map(abs).max() ?? 0
                let worst = zip(g, w).map { abs($0 - $1) }.max() ?? .infinity
                #expect(
                    g.count == w.count && worst <= 1e-5 * scale, "input \(index) of \(wanted): \(worst) of \(scale)")
                if index == 0 { #expect(g == w, "the input's gradient is bit for bit the separate layers'") }
            }
        }
    }

    @Test(arguments: layers)
    func linearWithAResidualIsTheSum(_ layer: Layer) throws {
        let inputs = [
            randn([layer.rows, layer.hidden], seed: 11),
            randn([layer.outFeatures, layer.hidden], seed: 12, scale: 0.1),
            randn([layer.outFeatures], seed: 13), randn([layer.rows, layer.outFeatures], seed: 14),
        ]
        try expectSame(
            { linear($0[0], weight: $0[1], bias: $0[2], adding: $0[3]) },
            { $0[3] + linear($0[0], weight: $0[1], bias: $0[2]) },
            inputs: inputs, upstream: randn([layer.rows, layer.outFeatures], seed: 15))
    }

    @Test func gradientsMatchFiniteDifferences() {
        let x = randn([2, 3, 6], seed: 21)
        let (w1, b1) = (randn([10, 6], seed: 22, scale: 0.5), randn([10], seed: 23))
        let (w2, b2) = (randn([6, 10], seed: 24, scale: 0.5), randn([6], seed: 25))
        let residual = randn([2, 3, 6], seed: 26)
        check.expect([x, w1, b1, w2, b2, residual]) {
            mlp($0[0], fc1Weight: $0[1], fc1Bias: $0[2], fc2Weight: $0[3], fc2Bias: $0[4], adding: $0[5])
        }
        let hidden = randn([2, 3, 10], seed: 27)
        check.expect([x, w1, b1]) { linear($0[0], weight: $0[1], bias: $0[2], adding: hidden) }
        check.expect([hidden, w2, residual]) { linear($0[0], weight: $0[1], bias: nil, adding: $0[2]) }
    }

    @Test func mlpWithAResidualIsTheSumAndKeepsDropoutWhenTraining() {
        let rng = RandomSource(seed: 3)
        let layer = MLP(8, hidden: 32, dropRate: 0.5, rng: rng)
        let (x, residual) = (randn([4, 8], seed: 31), randn([4, 8], seed: 32))
        layer.train(false)
        let evaluated = layer(x, adding: residual)
        #expect(evaluated.scalars == (residual + layer(x)).scalars)
        #expect(evaluated.scalars == (residual + layer.fc2(layer.fc1(x).gelu())).scalars)
        // Training with dropout: some hidden units are zeroed, so the result differs from the evaluated one.
        layer.train()
        #expect(layer(x, adding: residual).scalars != evaluated.scalars)
    }

    /// `fused` and `separate` give the same value bit for bit (with a graph, and without: GELU in place), and the
    /// same gradient of `Σ value ⊙ upstream` for every input: bit for bit, or for the inputs in `roundedGradients`
    /// within 1e-5 of the gradient's largest magnitude.
    private func expectSame(
        _ fused: ([Tensor]) -> Tensor, _ separate: ([Tensor]) -> Tensor, inputs: [Tensor], upstream: Tensor,
        roundedGradients: Set<Int> = [], sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        func run(_ f: ([Tensor]) -> Tensor) -> (value: [Float], gradients: [[Float]], noGrad: [Float]) {
            let leaves = inputs.map { $0.copy() }
            for leaf in leaves { leaf.requiresGrad = true }
            let value = f(leaves)
            (value * upstream).sum().backward()
            return (value.scalars, leaves.map { $0.grad?.scalars ?? [] }, withNoGrad { f(inputs).scalars })
        }
        let (got, want) = (run(fused), run(separate))
        #expect(got.value == want.value, "value", sourceLocation: sourceLocation)
        #expect(got.noGrad == want.value, "value without a graph", sourceLocation: sourceLocation)
        for (index, (g, w)) in zip(got.gradients, want.gradients).enumerated() {
            guard roundedGradients.contains(index) else {
                #expect(!g.isEmpty && g == w, "gradient of input \(index)", sourceLocation: sourceLocation)
                continue
            }
            let scale = w.map(abs).max() ?? 0
            let worst = zip(g, w).map { abs($0 - $1) }.max() ?? .infinity
            #expect(
                g.count == w.count && scale > 0 && worst <= 1e-5 * scale,
                "gradient of input \(index): differs by \(worst) of \(scale)", sourceLocation: sourceLocation)
        }
    }
}
