import CBLAS
import CKernels
import Foundation

/// Micro-benchmarks of the ops a training step spends its time in: `matmul`
/// next to a raw `cblas_sgemm` at the same shape, and the memory-bound
/// kernels (layer norm, softmax, GELU) forward and backward. `mixmae bench ops`
/// prints them.
///
/// ```swift
/// let r = OpsBenchmark.gemm(OpsBenchmark.standardShapes[0])
/// print(r.matmulGFLOPS, r.sgemmGFLOPS)
/// ```
public enum OpsBenchmark {
    /// A (possibly batched) GEMM `C[batch] = A[batch] op(B[batch])`, `m x n x k`.
    public struct GEMMShape: Sendable {
        public var name: String
        public var batch: Int
        public var m: Int
        public var n: Int
        public var k: Int
        /// B is given as `[n, k]` (a linear layer's weight) rather than `[k, n]`.
        public var transposeB: Bool
        /// One B for the whole batch (a linear layer) rather than one per item.
        public var sharedB: Bool

        public init(name: String, batch: Int = 1, m: Int, n: Int, k: Int, transposeB: Bool, sharedB: Bool = true) {
            self.name = name
            self.batch = batch
            self.m = m
            self.n = n
            self.k = k
            self.transposeB = transposeB
            self.sharedB = sharedB
        }

        /// Floating-point operations of one product (2 per multiply-add).
        public var flops: Double { 2 * Double(batch) * Double(m) * Double(n) * Double(k) }
    }

    /// The shapes of the benchmark configurations' hot GEMMs.
    public static let standardShapes: [GEMMShape] = [
        GEMMShape(name: "square 1024", m: 1024, n: 1024, k: 1024, transposeB: false),
        GEMMShape(name: "small128 s0 qkv (x Wᵀ)", m: 16384, n: 192, k: 64, transposeB: true),
        GEMMShape(name: "small128 s0 fc2 (x Wᵀ)", m: 16384, n: 64, k: 256, transposeB: true),
        GEMMShape(name: "small128 s2 fc1 (x Wᵀ)", m: 1024, n: 1024, k: 256, transposeB: true),
        GEMMShape(name: "tiny224 s0 qkv (x Wᵀ)", m: 6272, n: 288, k: 96, transposeB: true),
        GEMMShape(name: "tiny224 s0 fc1 (x Wᵀ)", m: 6272, n: 384, k: 96, transposeB: true),
        GEMMShape(name: "tiny224 s2 fc1 (x Wᵀ)", m: 1568, n: 1536, k: 384, transposeB: true),
        GEMMShape(name: "tiny224 s0 QKᵀ x384", batch: 384, m: 196, n: 196, k: 32, transposeB: true, sharedB: false),
        GEMMShape(name: "tiny224 s0 PV x384", batch: 384, m: 196, n: 32, k: 196, transposeB: false, sharedB: false),
        GEMMShape(name: "small128 s0 QKᵀ x512", batch: 512, m: 64, n: 64, k: 32, transposeB: true, sharedB: false),
    ]

    /// Rates of one shape: MixKit's `matmul`, and `cblas_sgemm` called directly
    /// (OpenBLAS threaded over ``Parallel/threadCount``, one call per batch item).
    public struct GEMMResult: Sendable {
        public var shape: GEMMShape
        public var matmulGFLOPS: Double
        public var sgemmGFLOPS: Double
    }

    /// Times `matmul` and raw `cblas_sgemm` on `shape`, best of `repetitions` after a warm-up.
    public static func gemm(_ shape: GEMMShape, repetitions: Int = 5) -> GEMMResult {
        var rng = RandomGenerator(seed: 1)
        let a = Tensor.randomNormal([shape.batch, shape.m, shape.k], using: &rng)
        let bShape = shape.transposeB ? [shape.n, shape.k] : [shape.k, shape.n]
        let b = Tensor.randomNormal(shape.sharedB ? bShape : [shape.batch] + bShape, using: &rng)
        let inner = max(1, Int(2e8 / shape.flops))
        let matmulSeconds = bestTime(repetitions: repetitions) {
            for _ in 0..<inner { _ = withNoGrad { matmul(a, b, transposeB: shape.transposeB) } }
        }
        let c = Tensor(uninitializedShape: [shape.batch, shape.m, shape.n])
        let strideB = shape.sharedB ? 0 : shape.k * shape.n
        Parallel.setBLASThreads(Parallel.threadCount)
        let sgemmSeconds = bestTime(repetitions: repetitions) {
            for _ in 0..<inner {
                for i in 0..<shape.batch {
                    cblas_sgemm(
                        CblasRowMajor, CblasNoTrans, shape.transposeB ? CblasTrans : CblasNoTrans, Int32(shape.m),
                        Int32(shape.n), Int32(shape.k), 1, a.data + i * shape.m * shape.k, Int32(shape.k),
                        b.data + i * strideB, Int32(shape.transposeB ? shape.k : shape.n), 0,
                        c.data + i * shape.m * shape.n, Int32(shape.n))
                }
            }
        }
        Parallel.configure()
        let work = shape.flops * Double(inner) * 1e-9
        return GEMMResult(shape: shape, matmulGFLOPS: work / matmulSeconds, sgemmGFLOPS: work / sgemmSeconds)
    }

    /// One linear layer's GEMMs (the forward `x Wᵀ + bias` and the backward pair) timed under the conditions a
    /// training step puts them in, against the GEMM table's (operands in cache from the call before, nothing after
    /// the product). The gaps are what a step's GEMMs lose to their surroundings rather than to the kernel.
    public struct StepGEMMResult: Sendable {
        public var shape: GEMMShape
        /// Operands in cache, nothing after the product.
        public var warmGFLOPS: Double
        /// GELU into a second output and its slope over C, applied as each block of C completes: a recorded
        /// MLP's fc1.
        public var geluGFLOPS: Double
        /// Operands and C evicted from every cache before each call (``evictionBytes`` written first), as a step
        /// meets a layer's weights after the optimizer and an activation made many ops before.
        public var coldGFLOPS: Double
        /// GELU's epilogue with operands from memory: fc1 as a training step runs it.
        public var coldGELUGFLOPS: Double
        /// The layer's backward pair, its input gradient `dY W` and weight gradient `dYᵀ x` at the same time on the
        /// compute threads (as a step runs them), operands in cache.
        public var backwardWarmGFLOPS: Double
        /// The backward pair with every cache written over first.
        public var backwardColdGFLOPS: Double
    }

    /// The step conditions' shapes: fc1 of small128's first and third stages (reduction 64 and 256) and of
    /// tiny224's third.
    public static let stepShapes: [GEMMShape] = [
        GEMMShape(name: "small128 s0 fc1 (x Wᵀ)", m: 16384, n: 256, k: 64, transposeB: true),
        GEMMShape(name: "small128 s2 fc1 (x Wᵀ)", m: 1024, n: 1024, k: 256, transposeB: true),
        GEMMShape(name: "tiny224 s2 fc1 (x Wᵀ)", m: 1568, n: 1536, k: 384, transposeB: true),
    ]

    /// Bytes written to evict the operands before a cold call: several times the last-level cache that the cores
    /// of one x86 chiplet or socket share today.
    public static let evictionBytes = 256 << 20

    /// Times `shape` (a linear's `x Wᵀ + bias`, batch 1) warm and cold, with and without fc1's GELU epilogue, and
    /// its backward pair warm and cold, each the best of `repetitions` single calls after a warm-up call. The
    /// eviction runs on the compute threads, so they are awake when the product starts, as in a step.
    ///
    /// ```swift
    /// let r = OpsBenchmark.stepGEMM(OpsBenchmark.stepShapes[1])
    /// print(r.warmGFLOPS, r.coldGELUGFLOPS)
    /// ```
    public static func stepGEMM(_ shape: GEMMShape, repetitions: Int = 5) -> StepGEMMResult {
        precondition(
            shape.batch == 1 && shape.transposeB && shape.sharedB,
            "OpsBenchmark.stepGEMM: \(shape.name) is not a linear layer's x Wᵀ (batch 1, B transposed and shared)")
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([shape.m, shape.k], using: &rng)
        let weight = Tensor.randomNormal([shape.n, shape.k], using: &rng)
        let bias = Tensor.randomNormal([shape.n], using: &rng)
        let output = Tensor(uninitializedShape: [shape.m, shape.n])
        let activation = Tensor(uninitializedShape: [shape.m, shape.n])
        let outputGradient = Tensor.randomNormal([shape.m, shape.n], using: &rng)
        let inputGradient = Tensor(uninitializedShape: [shape.m, shape.k])
        let weightGradient = Tensor(uninitializedShape: [shape.n, shape.k])
        let eviction = Tensor.zeros([evictionBytes / MemoryLayout<Float>.size])
        func evict() {
            let p = eviction.data
            Parallel.forRanges(eviction.count, work: eviction.count) { lo, hi in
                mk_affine(p + lo, 1, 1, p + lo, hi - lo)
            }
        }
        func product(gelu: Bool) -> () -> Void {
            let epilogue: mk_gemm_epilogue? =
                gelu ? .gelu(into: activation.data, ld: shape.n, slope: output.data, ldSlope: shape.n) : nil
            return {
                GEMMProduct(
                    x.data, weight.data, output.data, m: shape.m, n: shape.n, k: shape.k, transposeA: false,
                    transposeB: true, bias: bias.data, epilogue: epilogue
                ).run()
            }
        }
        func backward() {
            gemmConcurrently([
                GEMMProduct(
                    outputGradient.data, weight.data, inputGradient.data, m: shape.m, n: shape.k, k: shape.n,
                    transposeA: false, transposeB: false),
                GEMMProduct(
                    outputGradient.data, x.data, weightGradient.data, m: shape.n, n: shape.k, k: shape.m,
                    transposeA: true, transposeB: false),
            ])
        }
        Parallel.configure()
        let rate = { (seconds: Double, products: Double) in products * shape.flops / seconds * 1e-9 }
        let tensors = (x, weight, bias, output, activation, eviction, outputGradient, inputGradient, weightGradient)
        return withExtendedLifetime(tensors) {
            StepGEMMResult(
                shape: shape,
                warmGFLOPS: rate(bestTime(repetitions: repetitions, product(gelu: false)), 1),
                geluGFLOPS: rate(bestTime(repetitions: repetitions, product(gelu: true)), 1),
                coldGFLOPS: rate(bestTime(repetitions: repetitions, before: evict, product(gelu: false)), 1),
                coldGELUGFLOPS: rate(bestTime(repetitions: repetitions, before: evict, product(gelu: true)), 1),
                backwardWarmGFLOPS: rate(bestTime(repetitions: repetitions, backward), 2),
                backwardColdGFLOPS: rate(bestTime(repetitions: repetitions, before: evict, backward), 2))
        }
    }

    /// The machine's multiply-add peak on the active kernel path (``CPUFeatures/kernelPath``): chains of fused
    /// multiply-adds with nothing else in the loop, on one thread and then on `threads` threads at once (the
    /// compute pool's, one chain set each). A GEMM's GFLOP/s over ``allThreadsGFLOPS`` is the share of the cores'
    /// arithmetic it uses.
    ///
    /// ```swift
    /// let peak = OpsBenchmark.fmaPeak()
    /// print(peak.oneThreadGFLOPS, peak.allThreadsGFLOPS)   // e.g. 117 and 233 on two Zen 4 cores with AVX-512
    /// ```
    public struct FMAPeak: Sendable {
        /// Floating-point operations per second (2 per multiply-add) of one thread alone, in billions.
        public var oneThreadGFLOPS: Double
        /// The same, of ``threads`` threads running at once, added up.
        public var allThreadsGFLOPS: Double
        public var threads: Int
    }

    /// Steps of one timed run (12 chains of one vector each): 4.6 GFLOP on AVX-512 (0.04 s on a Zen 4 core),
    /// half that on AVX2, a quarter on the portable path.
    static let fmaPeakSteps = 12_000_000

    /// Measures ``FMAPeak``, best of `repetitions` runs of each after a warm-up (the first vector instructions of
    /// a process can run slower while the core raises its power limit).
    public static func fmaPeak(threads: Int = Parallel.threadCount, repetitions: Int = 3) -> FMAPeak {
        let steps = fmaPeakSteps
        var sink: Float = 0
        // The count of one step times the steps: a whole run only to count it would be a third warm-up.
        let flopsPerRun = mk_fma_peak(1, 1, 1e-9, &sink) * Double(steps)
        let one = bestTime(repetitions: repetitions) { _ = mk_fma_peak(steps, 1, 1e-9, &sink) }
        let parts = max(1, threads)
        let all = bestTime(repetitions: repetitions) {
            Parallel.forEachPart(parts) { _ in
                var partSink: Float = 0
                _ = mk_fma_peak(steps, 1, 1e-9, &partSink)
            }
        }
        return FMAPeak(
            oneThreadGFLOPS: flopsPerRun / one * 1e-9, allThreadsGFLOPS: Double(parts) * flopsPerRun / all * 1e-9,
            threads: parts)
    }

    /// What the cores take from each other: one product's rate per thread on one thread alone, and while every
    /// compute thread runs a share of its own at once (the same number of rows each, B shared, as a step's threads
    /// split a product). Cores share their last-level cache and memory, and a virtual machine's vCPUs may be two
    /// hardware threads of one core, which share its FMA units too. On two Zen 1 vCPUs (2026-12-06) each thread
    /// kept its rate (small128's first fc2 34.1 GFLOP/s alone, 34.2-34.5 at once).
    ///
    /// ```swift
    /// let r = OpsBenchmark.sharedCores(OpsBenchmark.sharedCoresShapes[0])
    /// print(r.aloneGFLOPS, r.togetherGFLOPS ?? 0)   // GFLOP/s per thread
    /// ```
    public struct SharedCoresResult: Sendable {
        public var shape: GEMMShape
        /// Threads that ran at once, and the rows of C each computed (the first `rowsPerThread * threads` of M).
        public var threads: Int
        public var rowsPerThread: Int
        /// GFLOP/s of one thread computing its share with the other threads idle.
        public var aloneGFLOPS: Double
        /// GFLOP/s of each thread while all compute their shares at once (the slowest one's time); nil when no
        /// run's shares overlapped (the pool's threads were busy elsewhere).
        public var togetherGFLOPS: Double?
    }

    /// Large linear-layer products of the benchmark configurations.
    public static let sharedCoresShapes: [GEMMShape] = [
        GEMMShape(name: "small128 s0 fc2 (x Wᵀ)", m: 16384, n: 64, k: 256, transposeB: true),
        GEMMShape(name: "small128 s2 fc1 (x Wᵀ)", m: 1024, n: 1024, k: 256, transposeB: true),
        GEMMShape(name: "tiny224 s2 fc1 (x Wᵀ)", m: 1568, n: 1536, k: 384, transposeB: true),
    ]

    /// Measures ``SharedCoresResult`` for `shape` (its batch is ignored) on `threads` threads, each share a
    /// single-threaded GEMM (MixKit's kernel, else OpenBLAS on one thread), best of `repetitions` timed runs of
    /// about 0.1 GFLOP per thread.
    public static func sharedCores(_ shape: GEMMShape, threads: Int = Parallel.threadCount, repetitions: Int = 5)
        -> SharedCoresResult
    {
        var rng = RandomGenerator(seed: 4)
        let a = Tensor.randomNormal([shape.m, shape.k], using: &rng)
        let b = Tensor.randomNormal(shape.transposeB ? [shape.n, shape.k] : [shape.k, shape.n], using: &rng)
        let c = Tensor(uninitializedShape: [shape.m, shape.n])
        let parts = max(1, min(threads, shape.m))
        let rows = shape.m / parts
        let (pa, pb, pc) = (UnsafePointer(a.data), UnsafePointer(b.data), c.data)
        let shareFLOPs = 2 * Double(rows) * Double(shape.n) * Double(shape.k)
        let inner = max(1, Int(1e8 / shareFLOPs))
        func share(_ part: Int) {
            blasGEMM(
                pa + part * rows * shape.k, lda: shape.k, pb, ldb: shape.transposeB ? shape.k : shape.n,
                pc + part * rows * shape.n, ldc: shape.n, m: rows, n: shape.n, k: shape.k, transposeA: false,
                transposeB: shape.transposeB)
        }
        Parallel.configure()
        let alone = bestTime(repetitions: repetitions) { for _ in 0..<inner { share(0) } }
        // A run counts only when its shares overlapped (each began before any ended): a pool thread that did not
        // come in time leaves its share to another, which runs it after its own.
        let spans = UnsafeMutableBufferPointer<(start: UInt64, end: UInt64)>.allocate(capacity: parts)
        defer { spans.deallocate() }
        var together = Double.infinity
        var counted = 0
        for _ in 0..<(3 * max(1, repetitions) + 1) where counted <= repetitions {
            Parallel.forEachPart(parts) { part in
                let start = Profiler.now()
                for _ in 0..<inner { share(part) }
                spans[part] = (start, Profiler.now())
            }
            guard spans.map(\.start).max()! < spans.map(\.end).min()! else { continue }
            counted += 1
            // The first overlapped run warms up, as bestTime's untimed run does.
            let wall = Double(spans.map(\.end).max()! - spans.map(\.start).min()!) * 1e-9
            if counted > 1 { together = min(together, wall) }
        }
        let work = shareFLOPs * Double(inner) * 1e-9
        withExtendedLifetime((a, b, c)) {}
        return SharedCoresResult(
            shape: shape, threads: parts, rowsPerThread: rows, aloneGFLOPS: work / alone,
            togetherGFLOPS: parts == 1 ? work / alone : together.isFinite ? work / together : nil)
    }

    /// Time and bandwidth of one memory-bound kernel, forward and backward.
    public struct KernelResult: Sendable {
        public var name: String
        public var elements: Int
        public var forwardSeconds: Double
        /// Bytes the forward kernel must move (inputs read + outputs written) per second.
        public var forwardGBps: Double
        public var backwardSeconds: Double
        public var backwardGBps: Double
    }

    /// Layer norm, softmax and GELU over `[rows, cols]`, plus a scale (`x * 2`)
    /// as the machine's reference read-and-write bandwidth. The backward time
    /// is the op's own backward kernel (from ``Profiler``), without the
    /// autograd engine around it.
    public static func kernels(rows: Int = 65536, cols: Int = 256, repetitions: Int = 5) -> [KernelResult] {
        var rng = RandomGenerator(seed: 2)
        let x = Tensor.randomNormal([rows, cols], using: &rng).asParameter()
        let seed = Tensor.randomNormal([rows, cols], using: &rng)
        let weight = Tensor.ones([cols]).asParameter()
        let bias = Tensor.zeros([cols]).asParameter()
        let n = Double(rows * cols)
        // Bytes moved: forward reads x and writes y; backward reads the saved
        // tensor and the output gradient and writes the input gradient.
        let cases: [(String, String, Double, Double, () -> Tensor)] = [
            ("scale (x*2)", "mul_scalar", 8, 8, { x * 2 }),
            ("layer_norm", "layer_norm", 8, 12, { layerNorm(x, weight: weight, bias: bias) }),
            ("softmax", "softmax", 8, 12, { x.softmax(axis: -1) }),
            ("gelu", "gelu", 8, 12, { x.gelu() }),
        ]
        var results: [KernelResult] = []
        for (name, op, forwardBytes, backwardBytes, f) in cases {
            let forward = bestTime(repetitions: repetitions) { _ = withNoGrad { f() } }
            let backward = bestBackwardTime(
                of: op, repetitions: repetitions, seed: seed, clearing: [x, weight, bias], forward: f)
            results.append(
                KernelResult(
                    name: name, elements: rows * cols, forwardSeconds: forward,
                    forwardGBps: forwardBytes * n / forward * 1e-9, backwardSeconds: backward,
                    backwardGBps: backwardBytes * n / backward * 1e-9))
        }
        return results
    }

    /// The best time per call of `op`'s own backward kernel (from ``Profiler``, without the autograd engine around
    /// it) over `repetitions` + 1 backward passes of `forward()`'s result seeded with `seed`, the gradients of
    /// `parameters` cleared after each.
    static func bestBackwardTime(
        of op: String, repetitions: Int, seed: Tensor, clearing parameters: [Tensor], forward: () -> Tensor
    ) -> Double {
        var best = Double.infinity
        for _ in 0...repetitions {
            let y = forward()
            let wasActive = Profiler.isActive
            if !wasActive { Profiler.start() }
            y.backward(seed)
            if let row = Profiler.summary().entries.first(where: { $0.op == op && $0.phase == .backward }) {
                best = min(best, row.seconds / Double(row.calls))
            }
            if !wasActive { Profiler.stop() }
            for parameter in parameters { parameter.grad = nil }
        }
        return best
    }

    /// The best wall time of `body` over `repetitions` runs after one warm-up run, `before` run (untimed) ahead of
    /// each.
    static func bestTime(repetitions: Int, before: () -> Void = {}, _ body: () -> Void) -> Double {
        before()
        body()
        var best = Double.infinity
        for _ in 0..<max(1, repetitions) {
            before()
            let t0 = Profiler.now()
            body()
            best = min(best, Double(Profiler.now() - t0) * 1e-9)
        }
        return best
    }
}
