import CKernels
import Foundation
import MixKit
import MixKitTesting
import Testing

/// CKernels' per-head attention products (`mk_attention_scores`, `mk_attention_apply`, head dimension 32) against
/// float64 sums on the avx2 and avx512 paths: runs of 1 to 100 tokens (blocks of 6 rows and 16 columns on avx2, 8
/// rows and 32 columns on avx512, with every tail of rows either way, and tails of columns up to half a block and
/// more), operands whose rows are further apart than 32 floats, alpha, and a transposed `p`. Outside its block the
/// output keeps the NaN it starts with. Attention with 32-dimensional heads (the ops that call the kernels) is
/// checked against the same attention composed of separate ops, forward and backward, and by finite differences.
@Suite struct AttentionKernelTests {
    static let lengths = [1, 2, 3, 8, 9, 13, 16, 22, 31, 32, 33, 49, 64, 65, 100]
    let d = Int(MK_ATTENTION_HEAD_DIM)

    @Test func scoresMatchAFloat64ReferenceOnEveryPath() throws {
        for path in CPUFeatures.supportedPaths.filter({ $0 != .portable }) {
            for len in Self.lengths {
                let (lda, ldb, lds) = (3 * d + 5, d + 1, len + 3)
                let a = randn([len * lda], seed: 1).scalars
                let b = randn([len * ldb], seed: 2).scalars
                var s = [Float](repeating: .nan, count: len * lds)
                var scratch = [Float](repeating: .nan, count: d * (len + d))
                let handled = try CPUFeatures.withThreadKernelPath(path) {
                    mk_attention_scores(a, lda, b, ldb, len, 0.3, &s, lds, &scratch)
                }
                #expect(handled == 1)
                var worst = 0.0
                for i in 0..<len {
                    for j in 0..<lds {
                        guard j < len else {
                            #expect(s[i * lds + j].isNaN, "\(path) len \(len): wrote s[\(i), \(j)] past the block")
                            continue
                        }
                        var (sum, size) = (0.0, 0.0)
                        for t in 0..<d {
                            let term = 0.3 * Double(a[i * lda + t]) * Double(b[j * ldb + t])
                            sum += term
                            size += abs(term)
                        }
                        worst = max(worst, abs(Double(s[i * lds + j]) - sum) / (1e-6 * size + 1e-30))
                    }
                }
                #expect(worst <= 1, "\(path) scores of \(len) tokens: \(worst)")
            }
        }
    }

    @Test func applyMatchesAFloat64ReferenceOnEveryPath() throws {
        for path in CPUFeatures.supportedPaths.filter({ $0 != .portable }) {
            for len in Self.lengths {
                for transposed in [false, true] {
                    let (ldv, ldo) = (3 * d + 7, d + 9)
                    let p = randn([len * len], seed: 3).scalars
                    let v = randn([len * ldv], seed: 4).scalars
                    var out = [Float](repeating: .nan, count: len * ldo)
                    let handled = try CPUFeatures.withThreadKernelPath(path) {
                        mk_attention_apply(p, len, transposed ? 1 : 0, v, ldv, len, -1.5, &out, ldo)
                    }
                    #expect(handled == 1)
                    var worst = 0.0
                    for i in 0..<len {
                        for u in 0..<ldo {
                            guard u < d else {
                                #expect(
                                    out[i * ldo + u].isNaN, "\(path) len \(len): wrote out[\(i), \(u)] past the head")
                                continue
                            }
                            var (sum, size) = (0.0, 0.0)
                            for j in 0..<len {
                                let pij = transposed ? p[j * len + i] : p[i * len + j]
                                let term = -1.5 * Double(pij) * Double(v[j * ldv + u])
                                sum += term
                                size += abs(term)
                            }
                            worst = max(worst, abs(Double(out[i * ldo + u]) - sum) / (1e-6 * size + 1e-30))
                        }
                    }
                    #expect(worst <= 1, "\(path) apply of \(len) tokens, p transposed \(transposed): \(worst)")
                }
            }
        }
    }

    /// `mk_attention_softmax_block` (avx512: a short-row kernel up to 64 tokens, a long-row one past it) on every
    /// path against a float64 softmax: with and without a bias whose rows are further apart than the block's,
    /// groups that mask the scores between tokens of different groups, scores 30 apart (so some exponentials
    /// underflow), rows of `p` further apart than `len` (left NaN past the block). Within a millionth.
    @Test func softmaxBlockMatchesAFloat64ReferenceOnEveryPath() throws {
        for path in CPUFeatures.supportedPaths {
            for len in Self.lengths + [196] {
                for (withBias, withGroups) in [(false, false), (true, false), (true, true)] {
                    let (ldp, ldb) = (len + 5, len + 2)
                    let scores = randn([len * ldp], seed: 8).scalars.map { 30 * $0 }
                    let bias = randn([len * ldb], seed: 9).scalars
                    let groups: [UInt8] = (0..<len).map { UInt8(($0 * 5 + $0 / 7) % 3) }
                    var p = scores.enumerated().map { $0.offset % ldp < len ? $0.element : .nan }
                    try CPUFeatures.withThreadKernelPath(path) {
                        mk_attention_softmax_block(
                            &p, ldp, withBias ? bias : nil, ldb, withGroups ? groups : nil, len)
                    }
                    var worst = 0.0
                    for i in 0..<len {
                        // The logits and their differences from the largest rounded to float as the kernels
                        // round them: an error in x - max of half an ulp of 60 is 4e-6 of the exponential.
                        let logits = (0..<len).map { j -> Float in
                            if withGroups && groups[j] != groups[i] { return -.infinity }
                            return scores[i * ldp + j] + (withBias ? bias[i * ldb + j] : 0)
                        }
                        let largest = logits.max()!
                        let exponentials = logits.map { Foundation.exp(Double($0 - largest)) }
                        let total = exponentials.reduce(0, +)
                        for j in 0..<ldp {
                            guard j < len else {
                                #expect(p[i * ldp + j].isNaN, "\(path) len \(len): wrote p[\(i), \(j)] past the block")
                                continue
                            }
                            let expected = exponentials[j] / total
                            worst = max(worst, abs(Double(p[i * ldp + j]) - expected) / (1e-6 * expected + 1e-37))
                        }
                    }
                    #expect(
                        worst <= 1, "\(path) softmax of \(len) tokens, bias \(withBias), groups \(withGroups): \(worst)"
                    )
                }
            }
        }
    }

    @Test func thePortablePathLeavesThemToTheBLAS() throws {
        var out: [Float] = [.nan]
        var scratch = [Float](repeating: 0, count: d * d)
        let row = [Float](repeating: 1, count: d)
        let handled = try CPUFeatures.withThreadKernelPath(.portable) {
            (
                mk_attention_scores(row, d, row, d, 1, 1, &out, 1, &scratch),
                mk_attention_apply([1], 1, 0, row, d, 1, 1, &out, d)
            )
        }
        #expect(handled.0 == 0 && handled.1 == 0)
        #expect(out[0].isNaN)
    }

    /// Windows of 70 tokens, 2 heads of 32: masked by groups (runs of every length the ids make) and by sorted
    /// spans (runs of 1, 6, 30 and 33 tokens), with a relative-position bias, on enough windows to use every thread.
    @Test func attentionWithHeadsOf32MatchesComposedOps() {
        let (windows, n, heads) = (6, 70, 2)
        let groups: [UInt8] = (0..<(3 * n)).map { UInt8(($0 * 7 + $0 / 11) % 3 == 0 ? 1 : 0) }
        let spanIds: [UInt8] = (0..<n).map { $0 < 1 ? 0 : $0 < 7 ? 1 : $0 < 37 ? 2 : 3 }
        let spans = AttentionSpans(runsOf: spanIds, tokens: n)
        let qkv = randn([windows, n, 3 * heads * d], seed: 5)
        let bias = randn([heads, n, n], seed: 6)
        let w = randn([windows, n, heads * d], seed: 7)
        func grads(_ f: (Tensor, Tensor) -> Tensor) -> (Tensor, Tensor, Tensor) {
            attentionWithGradients(qkv, bias, weights: w, f)
        }
        let spanGroups = (0..<windows).flatMap { _ in spanIds }
        for (name, ids, period) in [("groups", groups, 3), ("spans", spanGroups, windows)] {
            let fused = grads { x, b in
                name == "spans"
                    ? multiHeadAttention(qkv: x, heads: heads, scale: 0.2, bias: b, spans: spans)
                    : multiHeadAttention(qkv: x, heads: heads, scale: 0.2, bias: b, groups: ids, period: period)
            }
            let reference = grads {
                composedAttention($0, heads: heads, scale: 0.2, bias: $1, groups: ids, period: period)
            }
            #expect(maxAbsDiff(fused.0, reference.0) < 1e-5, "\(name): output")
            #expect(maxAbsDiff(fused.1, reference.1) < 1e-4, "\(name): qkv gradient")
            #expect(maxAbsDiff(fused.2, reference.2) < 1e-4, "\(name): bias gradient")
        }
    }

    @Test func attentionWithHeadsOf32Gradients() {
        let spans = AttentionSpans(runsOf: [0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2], tokens: 9)
        GradientCheck(samplesPerInput: 12).expect([randn([2, 9, 3 * d], seed: 8), randn([2, 1, 9, 9], seed: 9)]) {
            multiHeadAttention(qkv: $0[0], heads: 1, scale: 0.3, bias: $0[1], spans: spans)
        }
        GradientCheck(samplesPerInput: 12).expect([randn([3, 33, 3 * 2 * d], seed: 10)]) {
            multiHeadAttention(qkv: $0[0], heads: 2, scale: 0.25)
        }
    }
}
