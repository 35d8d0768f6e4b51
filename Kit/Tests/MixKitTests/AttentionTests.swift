import MixKit
import MixKitTesting
import Synchronization
import Testing

/// The attention of ``multiHeadAttention(qkv:heads:scale:bias:groups:period:)`` written with
/// separate permute, slice, matmul and softmax ops (timm's `Attention.forward`).
func composedAttention(_ qkv: Tensor, heads: Int, scale: Float, bias: Tensor?, groups: [UInt8]?, period: Int)
    -> Tensor
{
    let (b, n, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
    let d = c3 / 3 / heads
    let parts = qkv.reshaped([b, n, 3, heads, d]).permuted([2, 0, 3, 1, 4])
    let q = parts.slice(axis: 0, 0..<1).reshaped([b, heads, n, d]) * scale
    let k = parts.slice(axis: 0, 1..<2).reshaped([b, heads, n, d])
    let v = parts.slice(axis: 0, 2..<3).reshaped([b, heads, n, d])
    let p = attentionSoftmax(matmul(q, k, transposeB: true), bias: bias, groups: groups, period: period)
    return matmul(p, v).permuted([0, 2, 1, 3]).reshaped([b, n, c3 / 3])
}

/// `f(qkv, bias)`, and the gradients of `sum(f(qkv, bias) * w)` with respect to `qkv` and `bias` (taken on copies).
func attentionWithGradients(_ qkv: Tensor, _ bias: Tensor, weights w: Tensor, _ f: (Tensor, Tensor) -> Tensor)
    -> (output: Tensor, qkv: Tensor, bias: Tensor)
{
    let x = qkv.copy().asParameter()
    let b = bias.copy().asParameter()
    let y = f(x, b)
    (y * w).sum().backward()
    return (y, x.grad!, b.grad!)
}

@Suite struct AttentionTests {
    let check = GradientCheck()

    @Test func fusedAttentionMatchesComposedOps() {
        let groups: [UInt8] = (0..<(2 * 9)).map { UInt8(($0 * 7) % 3 == 0 ? 1 : 0) }
        for (withBias, withGroups) in [(false, false), (true, false), (false, true), (true, true)] {
            let qkv = randn([4, 9, 3 * 12], seed: 1)
            let bias = withBias ? randn([3, 9, 9], seed: 2) : nil
            let g = withGroups ? groups : nil
            let fused = multiHeadAttention(qkv: qkv, heads: 3, scale: 0.5, bias: bias, groups: g, period: 2)
            let reference = composedAttention(qkv, heads: 3, scale: 0.5, bias: bias, groups: g, period: 2)
            #expect(fused.shape == [4, 9, 12])
            #expect(maxAbsDiff(fused, reference) < 1e-5)
        }
    }

    @Test func fusedAttentionGradients() {
        let groups: [UInt8] = [0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0]
        check.expect([randn([4, 6, 3 * 8], seed: 3), randn([2, 6, 6], seed: 4)]) {
            multiHeadAttention(qkv: $0[0], heads: 2, scale: 0.7, bias: $0[1], groups: groups, period: 2)
        }
        check.expect([randn([3, 5, 3 * 6], seed: 5)]) { multiHeadAttention(qkv: $0[0], heads: 3, scale: 0.4) }
        // Enough (sequence, head) pairs to run on several threads, each with its bias partial sums.
        GradientCheck(samplesPerInput: 8).expect([randn([32, 16, 3 * 16], seed: 6), randn([4, 16, 16], seed: 7)]) {
            multiHeadAttention(qkv: $0[0], heads: 4, scale: 0.5, bias: $0[1])
        }
    }

    @Test func fusedAttentionGradientsMatchComposedOps() {
        let groups: [UInt8] = (0..<(3 * 16)).map { UInt8($0 % 5 == 0 ? 1 : 0) }
        let qkv = randn([24, 16, 3 * 32], seed: 8)
        let bias = randn([4, 16, 16], seed: 9)
        let w = randn([24, 16, 32], seed: 10)
        func grads(_ f: (Tensor, Tensor) -> Tensor) -> (Tensor, Tensor) {
            let x = qkv.copy().asParameter()
            let b = bias.copy().asParameter()
            (f(x, b) * w).sum().backward()
            return (x.grad!, b.grad!)
        }
        let fused = grads { multiHeadAttention(qkv: $0, heads: 4, scale: 0.3, bias: $1, groups: groups, period: 3) }
        let reference = grads {
            composedAttention($0, heads: 4, scale: 0.3, bias: $1, groups: groups, period: 3)
        }
        #expect(maxAbsDiff(fused.0, reference.0) < 1e-4)
        #expect(maxAbsDiff(fused.1, reference.1) < 1e-4)
    }

    /// Enough windows to share among the threads: each head's windows are cut into runs, each summing into a block
    /// of the bias gradient of its own, that the threads take as they come free (3 heads are not a multiple of the
    /// threads on 2 or 4 cores; 4 are). Either way the same result as the composed ops, and the same bits on every
    /// run whichever thread takes which run.
    @Test(arguments: [3, 4])
    func attentionInChunksMatchesComposedOpsAndRepeatsItsBits(heads: Int) {
        let qkv = randn([64, 16, 3 * 32 * heads], seed: 22)
        let bias = randn([heads, 16, 16], seed: 23)
        let w = randn([64, 16, 32 * heads], seed: 24)
        let fused = {
            attentionWithGradients(qkv, bias, weights: w) {
                multiHeadAttention(qkv: $0, heads: heads, scale: 0.2, bias: $1)
            }
        }
        let (first, second) = (fused(), fused())
        let reference = attentionWithGradients(qkv, bias, weights: w) {
            composedAttention($0, heads: heads, scale: 0.2, bias: $1, groups: nil, period: 1)
        }
        #expect(maxAbsDiff(first.output, reference.output) < 1e-4)
        #expect(maxAbsDiff(first.qkv, reference.qkv) < 1e-4)
        #expect(maxAbsDiff(first.bias, reference.bias) < 1e-3)
        #expect(first.output.scalars == second.output.scalars)
        #expect(first.qkv.scalars == second.qkv.scalars)
        #expect(first.bias.scalars == second.bias.scalars)
    }

    /// Inside a region of the thread pool the op runs on one thread, which takes every run of windows: its own share
    /// from the front, then the other share from its end. The output and both gradients must have the bits of the
    /// threads sharing the work: with one bias for every window (3 and 4 heads), and with a bias per window position
    /// (spans, 2 positions).
    @Test(arguments: [(3, false), (4, false), (2, true)])
    func attentionOnOneThreadTakingEveryRunGivesTheSameBits(heads: Int, perPosition: Bool) throws {
        let qkv = randn([64, 16, 3 * 32 * heads], seed: 25)
        let bias = randn(perPosition ? [2, heads, 16, 16] : [heads, 16, 16], seed: 26)
        let w = randn([64, 16, 32 * heads], seed: 27)
        let spans = AttentionSpans(runsOf: (0..<32).map { UInt8($0 % 16 < 6 ? 0 : 1) }, tokens: 16)
        func run() -> [[Float]] {
            let results = attentionWithGradients(qkv, bias, weights: w) {
                perPosition
                    ? multiHeadAttention(qkv: $0, heads: heads, scale: 0.2, bias: $1, spans: spans)
                    : multiHeadAttention(qkv: $0, heads: heads, scale: 0.2, bias: $1)
            }
            return [results.output.scalars, results.qkv.scalars, results.bias.scalars]
        }
        let shared = run()
        #expect(run() == shared, "two runs")
        let taken = Mutex<[[Float]]?>(nil)
        Parallel.forEachPart(2) { part in
            guard part == 0 else { return }
            let results = run()
            taken.withLock { $0 = results }
        }
        let oneThread = try #require(taken.withLock { $0 })
        for (name, index) in [("output", 0), ("qkv gradient", 1), ("bias gradient", 2)] {
            let differing = zip(oneThread[index], shared[index]).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(name): elements that differ")
        }
    }

    @Test func spansAreTheRunsOfEqualIds() {
        let spans = AttentionSpans(runsOf: [0, 0, 1, 1, 1, 0, 0, 0, 0, 1], tokens: 5)
        #expect(spans.starts == [[0, 2], [0, 4]])
        #expect(spans.period == 2)
        let (order, sorted) = AttentionSpans.sortingWindows(groups: [1, 0, 1, 0, 255, 0, 0, 1], tokens: 4)
        #expect(order == [1, 3, 0, 2, 1, 2, 3, 0])
        #expect(sorted.starts == [[0, 2], [0, 2, 3]])
    }

    /// Without a backward pass the op keeps no probabilities (each thread reuses one window's block): the same
    /// values, to the bit, as a recorded call, with spans, a mask or neither, on enough windows to use every thread,
    /// for a parameter under `withNoGrad` (grad mode is per thread: the op must read it on the calling thread).
    @Test func attentionWithoutGradientsMatchesTheRecordedCall() {
        let (windows, n, heads, d) = (16, 64, 2, 32)
        let ids: [UInt8] = (0..<(windows * n)).map { UInt8($0 % n < 40 ? 0 : 1) }
        let spans = AttentionSpans(runsOf: ids, tokens: n)
        let bias = randn([heads, n, n], seed: 3)
        let qkv = randn([windows, n, 3 * heads * d], seed: 2)
        let variants: [(String, (Tensor) -> Tensor)] = [
            ("spans", { multiHeadAttention(qkv: $0, heads: heads, scale: 0.3, bias: bias, spans: spans) }),
            (
                "mask",
                { multiHeadAttention(qkv: $0, heads: heads, scale: 0.3, bias: bias, groups: ids, period: windows) }
            ),
            ("plain", { multiHeadAttention(qkv: $0, heads: heads, scale: 0.3) }),
        ]
        for (name, attend) in variants {
            // A parameter under withNoGrad: only the calling thread's grad mode says nothing records.
            let parameter = qkv.copy().asParameter()
            let free = withNoGrad { attend(parameter) }
            let recorded = attend(parameter)
            let worst = zip(free.scalars, recorded.scalars).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst == 0, "\(name): largest difference \(worst)")
        }
    }

    /// Tokens sorted by group in each window, attended run by run, give what the
    /// masked op gives on the original order, forward and backward (qkv and a bias
    /// gathered per window position). The two window positions have different runs
    /// (128 + 40 tokens, and 68 + 60 + 40) and the last image is cut after its first
    /// window. Runs of 128 tokens take MixKit's GEMM, the others OpenBLAS's.
    @Test func spanAttentionOnSortedTokensMatchesTheMaskedOp() {
        let (windows, n, heads, d, period) = (3, 168, 2, 32, 2)
        let ids: [UInt8] = (0..<(period * n)).map { t in
            let place = t % n
            if t < n { return place * 37 % n < 128 ? 0 : 1 }
            let key = place * 11 % n
            return key < 40 ? 2 : key < 100 ? 1 : 0
        }
        let (order, spans) = AttentionSpans.sortingWindows(groups: ids, tokens: n)
        #expect(spans.starts == [[0, 128], [0, 68, 128]])
        let tokenIndex = (0..<(windows * n)).map { t in t / n * n + order[(t / n % period) * n + t % n] }
        var biasIndex: [Int] = []
        for h in 0..<heads {
            for p in 0..<period {
                for query in order[(p * n)..<((p + 1) * n)] {
                    for key in order[(p * n)..<((p + 1) * n)] { biasIndex.append((h * n + query) * n + key) }
                }
            }
        }
        let qkv = randn([windows, n, 3 * heads * d], seed: 11)
        let bias = randn([heads, n, n], seed: 12)
        let w = randn([windows, n, heads * d], seed: 13)
        func grads(_ f: (Tensor, Tensor) -> Tensor) -> (Tensor, Tensor, Tensor) {
            attentionWithGradients(qkv, bias, weights: w, f)
        }
        let masked = grads {
            multiHeadAttention(qkv: $0, heads: heads, scale: 0.2, bias: $1, groups: ids, period: period)
        }
        let sorted = grads { x, b in
            let sortedQKV = x.reshaped([windows * n, -1]).indexSelect(axis: 0, indices: tokenIndex)
                .reshaped([windows, n, -1])
            let sortedBias = b.reshaped([heads * n * n]).indexSelect(axis: 0, indices: biasIndex)
                .reshaped([heads, period, n, n]).permuted([1, 0, 2, 3])
            let y = multiHeadAttention(qkv: sortedQKV, heads: heads, scale: 0.2, bias: sortedBias, spans: spans)
            var inverse = [Int](repeating: 0, count: tokenIndex.count)
            for (place, token) in tokenIndex.enumerated() { inverse[token] = place }
            return y.reshaped([windows * n, -1]).indexSelect(axis: 0, indices: inverse).reshaped([windows, n, -1])
        }
        #expect(maxAbsDiff(masked.0, sorted.0) < 1e-5)
        #expect(maxAbsDiff(masked.1, sorted.1) < 1e-4)
        #expect(maxAbsDiff(masked.2, sorted.2) < 1e-4)
    }

    @Test func spanAttentionGradients() {
        let spans = AttentionSpans(runsOf: [0, 0, 0, 1, 1, 2, 5, 5, 5, 5, 5, 5], tokens: 6)
        check.expect([randn([4, 6, 3 * 8], seed: 14), randn([2, 2, 6, 6], seed: 15)]) {
            multiHeadAttention(qkv: $0[0], heads: 2, scale: 0.7, bias: $0[1], spans: spans)
        }
        check.expect([randn([4, 6, 3 * 8], seed: 16), randn([2, 6, 6], seed: 17)]) {
            multiHeadAttention(qkv: $0[0], heads: 2, scale: 0.7, bias: $0[1], spans: spans)
        }
        GradientCheck(samplesPerInput: 8).expect([randn([32, 16, 3 * 16], seed: 18), randn([2, 4, 16, 16], seed: 19)]) {
            multiHeadAttention(
                qkv: $0[0], heads: 4, scale: 0.5, bias: $0[1],
                spans: AttentionSpans(runsOf: (0..<32).map { UInt8($0 % 16 < 5 ? 0 : 1) }, tokens: 16))
        }
    }

    /// Two equal runs per window: half the query-key pairs, so half the multiply-adds.
    @Test func spanAttentionCountsOnlyThePairsWithinRuns() {
        let qkv = randn([2, 8, 3 * 4], seed: 20)
        let whole = Profiler.gemmWork {
            _ = multiHeadAttention(qkv: qkv, heads: 1, scale: 1, groups: [UInt8](repeating: 0, count: 8))
        }
        let halves = Profiler.gemmWork {
            _ = multiHeadAttention(
                qkv: qkv, heads: 1, scale: 1, spans: AttentionSpans(runsOf: [0, 0, 0, 0, 1, 1, 1, 1], tokens: 8))
        }
        #expect(whole.forward == 2 * 2 * (2 * 8 * 8 * 4))
        #expect(halves.forward * 2 == whole.forward)
    }

    /// `MIXMAE_PROFILE=1`'s GEMM-shape table lists each attention pass by its windows, tokens and heads, so that a
    /// step's attention time shows per stage next to the linears'.
    @Test func theProfileListsEachAttentionPassByItsShape() {
        Profiler.start()
        defer { Profiler.stop() }
        let qkv = randn([3, 16, 3 * 64], seed: 21)
        qkv.requiresGrad = true
        let y = multiHeadAttention(qkv: qkv, heads: 2, scale: 0.2)
        y.sum().backward()
        let report = Profiler.report()
        #expect(report.contains("attention 3 windows x 16 tokens x 2 heads, forward"), "\(report)")
        #expect(report.contains("attention 3 windows x 16 tokens x 2 heads, backward"), "\(report)")
    }
}
