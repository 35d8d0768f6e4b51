import CKernels
import Foundation
import MixKit
import Testing

/// MixKit's own SGEMM (`mk_sgemm`, the avx2 and avx512 kernel paths) against a
/// float64 reference: every transpose, shapes with edges in each direction and
/// across the cache blocks (k past 384, n past 480, or past the wider block a short
/// reduction packs, m past 1,536 rows),
/// leading dimensions wider than the matrices (multiples of 512 floats, for which
/// A's rows are copied and a transposed B is packed by rows), a transposed B's whole
/// column panels packed by in-register transposes (with a reduction tail past the
/// last whole block), last slivers of fewer rows than a micro-tile (the kernels of a
/// third and two thirds of its rows), alpha and beta (beta 0 must not read C, which
/// starts as NaN).
@Suite struct GEMMKernelTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        var m: Int, n: Int, k: Int
        var testDescription: String { "\(m)x\(n)x\(k)" }
    }

    static let shapes = [
        Shape(m: 1, n: 1, k: 1), Shape(m: 11, n: 31, k: 7), Shape(m: 12, n: 32, k: 384), Shape(m: 13, n: 33, k: 385),
        Shape(m: 97, n: 481, k: 40), Shape(m: 1_549, n: 40, k: 9), Shape(m: 30, n: 70, k: 0),
        Shape(m: 200, n: 64, k: 1_000), Shape(m: 131, n: 45, k: 390),
        // lda = k + 3 = 1,024: A's rows 4 KB apart take the padded-copy path, across three reduction blocks.
        Shape(m: 150, n: 70, k: 1_021),
        // ldb = k + 2 = 512: a transposed B 2 KB wide is packed four rows at a time (37 columns: a 4-row tail and 1).
        Shape(m: 130, n: 37, k: 510),
        // A transposed A packed (n past one block of 480 columns at a reduction block of 384), its last sliver of
        // 8 rows by the two-thirds kernel.
        Shape(m: 20, n: 500, k: 400),
        // A short reduction packs more columns at once (2,880 with AVX-512, 1,440 with AVX2 at k = 64), shared
        // evenly among the blocks: two of 1,472 and 1,428 columns, or three of 976, 976 and 948; a partial last tile.
        Shape(m: 13, n: 2_900, k: 64),
        // n = 256 at a reduction block of 384 with AVX2: two blocks of 128 columns, not 240 and 16.
        Shape(m: 40, n: 256, k: 500),
        // lda = m + 3 = 512: a transposed A packed for its rows 2 KB apart, sliver by sliver as n fits one block; last
        // sliver 5 rows.
        Shape(m: 509, n: 100, k: 30),
    ]

    @Test(arguments: shapes)
    func matchesAFloat64ReferenceOnEveryPathWithItsOwnKernel(_ shape: Shape) throws {
        let paths = CPUFeatures.supportedPaths.filter { $0 != .portable }
        for path in paths {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                for (alpha, beta, bias) in [
                    (Float(1), Float(0), false), (0.5, 1, false), (-2, 0.25, false), (1, 0, true),
                ] {
                    let worst = try CPUFeatures.withThreadKernelPath(path) {
                        try worstError(shape, ta: ta, tb: tb, alpha: alpha, beta: beta, bias: bias)
                    }
                    #expect(
                        worst <= 1,
                        "\(path) \(shape.testDescription) ta \(ta) tb \(tb) alpha \(alpha) beta \(beta) bias \(bias): \(worst)"
                    )
                }
            }
        }
    }

    @Test func thePortablePathLeavesGEMMsToTheBLAS() throws {
        let handled = try CPUFeatures.withThreadKernelPath(.portable) { () -> Int32 in
            var c: [Float] = [7]
            return mk_sgemm(0, 0, 1, 1, 1, 1, [2], 1, [3], 1, 0, &c, 1, nil)
        }
        #expect(handled == 0)
    }

    /// A narrow layer's weight gradient (`C = Aᵀ B`, at most 128 rows) whose transpose fills MixKit's micro-tiles
    /// better runs as `Cᵀ = Bᵀ A` and is copied back: C must be bit for bit what the kernel gives unturned on one
    /// thread, through `matmul` (cut over the threads) and through a linear layer's backward pass (next to the input
    /// gradient). 64x256 and 64x48 turn on the avx512 and avx2 paths; on the portable path nothing turns and
    /// OpenBLAS's result is checked against float64 sums instead.
    @Test func narrowWeightGradientsTurnedAreBitForBitTheKernels() throws {
        for (m, n, k) in [(64, 256, 700), (64, 48, 2_000)] {
            let a = randn([k, m], seed: 21)
            let b = randn([k, n], seed: 22)
            let fromMatmul = matmul(a, b, transposeA: true).scalars
            // The same product as a linear layer's weight gradient: upstream [k, m] is A, the input [k, n] is B.
            let x = b.copy()
            let w = randn([m, n], seed: 23)
            x.requiresGrad = true
            w.requiresGrad = true
            (linear(x, weight: w, bias: nil) * a).sum().backward()
            let fromBackward = try #require(w.grad).scalars
            var want = [Float](repeating: .nan, count: m * n)
            let handled = mk_sgemm(1, 0, m, n, k, 1, a.scalars, m, b.scalars, n, 0, &want, n, nil)
            if handled == 1 {
                let differ = { (got: [Float]) in zip(got, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count }
                #expect(differ(fromMatmul) == 0, "\(m)x\(n)x\(k) through matmul: elements that differ")
                #expect(differ(fromBackward) == 0, "\(m)x\(n)x\(k) through linear's backward: elements that differ")
            } else {
                let (av, bv) = (a.scalars, b.scalars)
                for got in [fromMatmul, fromBackward] {
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            var sum = 0.0
                            var size = 0.0
                            for p in 0..<k {
                                sum += Double(av[p * m + i]) * Double(bv[p * n + j])
                                size += abs(Double(av[p * m + i]) * Double(bv[p * n + j]))
                            }
                            worst = max(worst, abs(Double(got[i * n + j]) - sum) / (1e-6 * size + 1e-30))
                        }
                    }
                    #expect(worst <= 1, "\(m)x\(n)x\(k) on the portable path: \(worst)")
                }
            }
        }
    }

    /// Largest |got - want| / (1e-6 (sum |a b| + |beta c|) + 1e-30) over C: 1 is float rounding of the sum's size.
    /// `linear` with a bias (added by the GEMM as it writes, or by a fill before OpenBLAS on the portable path)
    /// against a float64 reference, on every path, for shapes below and above the size MixKit's kernel takes.
    @Test func linearAddsItsBiasOnEveryPath() throws {
        for path in CPUFeatures.supportedPaths {
            for (rows, inFeatures, outFeatures) in [(5, 3, 7), (300, 64, 70)] {
                let x = randn([rows, inFeatures], seed: 1)
                let w = randn([outFeatures, inFeatures], seed: 2)
                let b = randn([outFeatures], seed: 3)
                let y = try CPUFeatures.withThreadKernelPath(path) { withNoGrad { linear(x, weight: w, bias: b) } }
                let (xs, ws, bs, ys) = (x.scalars, w.scalars, b.scalars, y.scalars)
                var worst = 0.0
                for r in 0..<rows {
                    for o in 0..<outFeatures {
                        var want = Double(bs[o])
                        for i in 0..<inFeatures {
                            want += Double(xs[r * inFeatures + i]) * Double(ws[o * inFeatures + i])
                        }
                        worst = max(worst, abs(Double(ys[r * outFeatures + o]) - want) / (1e-5 * (abs(want) + 1)))
                    }
                }
                #expect(worst <= 1, "\(path) \(rows)x\(inFeatures)->\(outFeatures): \(worst)")
            }
        }
    }

    /// A linear layer's bias gradient (column sums of the upstream gradient, taken in blocks of rows by the thread
    /// that finishes its product first) against a float64 reference: one block, blocks that divide the rows, and a
    /// last block of other size; with the input's and weight's gradients (two products) and without (none).
    @Test func linearsBiasGradientSumsEveryRowOnce() throws {
        for (rows, everyGradient) in [(300, true), (2_048, true), (2_500, true), (3_000, false)] {
            let (inFeatures, outFeatures) = (48, 40)
            let x = randn([rows, inFeatures], seed: 31)
            let w = randn([outFeatures, inFeatures], seed: 32)
            let b = randn([outFeatures], seed: 33)
            let upstream = randn([rows, outFeatures], seed: 34)
            x.requiresGrad = everyGradient
            w.requiresGrad = everyGradient
            b.requiresGrad = true
            (linear(x, weight: w, bias: b) * upstream).sum().backward()
            let got = try #require(b.grad).scalars
            let u = upstream.scalars
            for o in 0..<outFeatures {
                var want = 0.0
                var size = 0.0
                for r in 0..<rows {
                    want += Double(u[r * outFeatures + o])
                    size += abs(Double(u[r * outFeatures + o]))
                }
                #expect(abs(Double(got[o]) - want) <= 1e-6 * size, "\(rows) rows, column \(o): \(got[o]) for \(want)")
            }
            #expect((x.grad != nil) == everyGradient && (w.grad != nil) == everyGradient)
        }
    }

    private func worstError(_ s: Shape, ta: Bool, tb: Bool, alpha: Float, beta: Float, bias withBias: Bool) throws
        -> Double
    {
        var rng = SystemRandomNumberGenerator()
        let (lda, ldb, ldc) = ((ta ? s.m : s.k) + 3, (tb ? s.k : s.n) + 2, s.n + 5)
        let a = (0..<((ta ? s.k : s.m) * lda)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<((tb ? s.n : s.k) * ldb)).map { _ in Float.random(in: -1...1, using: &rng) }
        let c0 = (0..<(s.m * ldc)).map { _ in beta == 0 ? Float.nan : Float.random(in: -1...1, using: &rng) }
        let bias = (0..<s.n).map { _ in Float.random(in: -1...1, using: &rng) }
        var c = c0
        let handled = bias.withUnsafeBufferPointer { pb in
            mk_sgemm(
                ta ? 1 : 0, tb ? 1 : 0, s.m, s.n, s.k, alpha, a, lda, b, ldb, beta, &c, ldc,
                withBias ? pb.baseAddress : nil)
        }
        // A transposed B with fewer than 128 rows of C is left to OpenBLAS (see CKernels.h).
        if tb && s.m < 128 {
            #expect(handled == 0 && c.elementsEqual(c0) { $0 == $1 || ($0.isNaN && $1.isNaN) })
            return 0
        }
        try #require(handled == 1)
        var worst = 0.0
        for i in 0..<s.m {
            for j in 0..<s.n {
                var sum = 0.0
                var size = 0.0
                for p in 0..<s.k {
                    let x = Double(ta ? a[p * lda + i] : a[i * lda + p])
                    let y = Double(tb ? b[j * ldb + p] : b[p * ldb + j])
                    sum += x * y
                    size += abs(x * y)
                }
                let old = beta == 0 ? 0 : Double(c0[i * ldc + j])
                let want = Double(alpha) * sum + Double(beta) * old + (withBias ? Double(bias[j]) : 0)
                let got = Double(c[i * ldc + j])
                let error = abs(got - want) / (1e-6 * (abs(Double(alpha)) * size + abs(Double(beta) * old) + 1) + 1e-30)
                worst = max(worst, error.isNaN ? .infinity : error)
            }
            // Columns past n (the padding of ldc) are never written.
            for j in s.n..<ldc where c[i * ldc + j] != c0[i * ldc + j] && !c0[i * ldc + j].isNaN {
                worst = .infinity
            }
        }
        return worst
    }
}
