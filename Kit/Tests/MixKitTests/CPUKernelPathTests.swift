import CBLAS
import CKernels
import Foundation
import MixKit
import Testing

/// Every C kernel, run on each kernel path this CPU supports, must give the
/// portable path's results to float rounding. Paths are forced through
/// ``CPUFeatures/withThreadKernelPath(_:_:)`` (the calling thread only), so the
/// tests running beside these keep their path.
@Suite struct CPUKernelPathTests {
    @Test func reportsAConsistentChoice() throws {
        let supported = CPUFeatures.supportedPaths
        #expect(supported.last == .portable)
        #expect(supported.first == CPUFeatures.bestPath)
        #expect(CPUFeatures.KernelPath.portable.missingFeatures.isEmpty)
        for path in CPUFeatures.KernelPath.allCases {
            #expect(path.isSupported == path.missingFeatures.isEmpty, "\(path): \(path.missingFeatures)")
        }
        if CPUFeatures.KernelPath.avx512.isSupported {
            #expect(CPUFeatures.instructionSets.contains("avx512f"))
            #expect(CPUFeatures.instructionSets.contains("avx2"))
        }
        #expect(CPUFeatures.summary.hasPrefix("\(CPUFeatures.kernelPath) (CPU runs "))
        for path in supported {
            let seen = try CPUFeatures.withThreadKernelPath(path) { CPUFeatures.kernelPath }
            #expect(seen == path)
        }
        for path in CPUFeatures.KernelPath.allCases where !path.isSupported {
            #expect(throws: CPUFeatures.UnsupportedPathError.self) { try CPUFeatures.use(path) }
        }
    }

    @Test func everyKernelHasACase() {
        let covered = Set(KernelCase.all.map(\.name))
        let dispatched = Set(CPUFeatures.kernelNames)
        #expect(dispatched.subtracting(covered).isEmpty, "kernels without a case: \(dispatched.subtracting(covered))")
        #expect(covered.subtracting(dispatched).isEmpty, "cases of no kernel: \(covered.subtracting(dispatched))")
    }

    @Test(arguments: KernelCase.all)
    func kernelAgreesAcrossPaths(_ kernel: KernelCase) throws {
        let reference = try CPUFeatures.withThreadKernelPath(.portable) { kernel.run() }
        #expect(!reference.isEmpty && reference.allSatisfy { !$0.isEmpty })
        for path in CPUFeatures.supportedPaths where path != .portable {
            let result = try CPUFeatures.withThreadKernelPath(path) { kernel.run() }
            #expect(result.count == reference.count)
            for (k, (want, got)) in zip(reference, result).enumerated() {
                let deviation = worstDeviation(want, got, relative: kernel.relativeTolerance)
                #expect(
                    deviation <= 1, "\(kernel.name) output \(k) on \(path): \(deviation) times the tolerance")
            }
        }
    }

    /// GELU's Gaussian factor e^(-v²/2) underflows for |v| above 13.24: every path gives 0 there, as the portable
    /// path's exponential does, so GELU is exactly 0 or v and its slope exactly 0 or 1, with no denormal anywhere.
    /// (A denormal lane costs a microcode assist per instruction on Intel cores; AVX-512's scaling once left them.)
    @Test func geluOfLargeInputsLeavesNoDenormals() throws {
        let magnitudes: [Float] = [13.25, 13.3, 14, 20, 30, 50]
        let inputs = magnitudes.flatMap { [-$0, $0] }
        let ones = [Float](repeating: 1, count: inputs.count)
        for path in CPUFeatures.supportedPaths {
            let (gelu, slope) = try CPUFeatures.withThreadKernelPath(path) {
                let results = outputs([inputs.count, inputs.count]) { o in
                    mk_gelu(inputs, o[0], inputs.count)
                    mk_gelu_backward(inputs, ones, o[1], inputs.count)
                }
                return (results[0], results[1])
            }
            for (index, v) in inputs.enumerated() {
                #expect(gelu[index] == (v > 0 ? v : 0), "\(path): gelu(\(v)) = \(gelu[index])")
                #expect(slope[index] == (v > 0 ? 1 : 0), "\(path): gelu'(\(v)) = \(slope[index])")
            }
        }
    }

    /// The largest |a - b| / (rtol * (|a| + scale)) over the elements, where
    /// scale is the output's largest magnitude over 100; NaN and infinity
    /// must match exactly.
    private func worstDeviation(_ a: [Float], _ b: [Float], relative rtol: Float) -> Float {
        guard a.count == b.count else { return .infinity }
        let scale = (a.map { $0.isFinite ? Swift.abs($0) : 0 }.max() ?? 0) / 100 + 1e-30
        var worst: Float = 0
        for (x, y) in zip(a, b) {
            if !x.isFinite || !y.isFinite {
                if !(x == y || (x.isNaN && y.isNaN)) { return .infinity }
                continue
            }
            worst = Swift.max(worst, Swift.abs(x - y) / (rtol * (Swift.abs(x) + scale)))
        }
        return worst
    }
}

/// One kernel called on fixed inputs; `run` returns every array it writes.
struct KernelCase: Sendable, CustomTestStringConvertible {
    var name: String
    var relativeTolerance: Float = 2e-5
    var run: @Sendable () -> [[Float]]

    var testDescription: String { name }

    /// Lengths with a remainder after every vector width (4, 8, 16 floats).
    static let n = 1037
    static let rows = 5
    static let cols = 77

    static let all: [KernelCase] =
        elementwise + reductions + normalisation + attention + optimizers + dense + gemm + headProducts
}

/// Reproducible inputs: uniform in [low, high), from a seed.
private func values(_ count: Int, seed: UInt64, _ low: Float = -3, _ high: Float = 3) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return low + (high - low) * Float(state >> 40) / Float(1 << 24)
    }
}

/// `values` rounded to multiples of 1/4: sums of their products stay exact in single precision.
private func quarters(_ count: Int, seed: UInt64) -> [Float] {
    values(count, seed: seed).map { ($0 * 4).rounded() / 4 }
}

/// Calls `body` with mutable buffers of the given sizes (zeroed) and returns them.
private func outputs(_ sizes: [Int], _ body: ([UnsafeMutablePointer<Float>]) -> Void) -> [[Float]] {
    let buffers = sizes.map { size -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(size, 1))
        p.initialize(repeating: 0, count: Swift.max(size, 1))
        return p
    }
    defer { buffers.forEach { $0.deallocate() } }
    body(buffers)
    return zip(buffers, sizes).map { Array(UnsafeBufferPointer(start: $0, count: $1)) }
}

extension KernelCase {
    static var elementwise: [KernelCase] {
        let n = KernelCase.n
        let a = values(n, seed: 1)
        let b = values(n, seed: 2, 0.5, 2)
        var cases: [KernelCase] = [
            KernelCase(name: "mk_binary") {
                var out: [[Float]] = []
                for op in [MK_ADD, MK_SUB, MK_MUL, MK_DIV, MK_MAX, MK_MIN] {
                    for (sa, sb) in [(1, 1), (1, 0), (0, 1), (0, 0)] {
                        out += outputs([n]) { mk_binary(Int32(op), a, sa, b, sb, $0[0], n) }
                    }
                }
                return out
            },
            KernelCase(name: "mk_accumulate") {
                outputs([n, n]) { o in
                    mk_accumulate(a, 1, o[0], n)
                    mk_accumulate(a, 1, o[0], n)
                    mk_accumulate(b, 0, o[1], n)
                }
            },
            KernelCase(name: "mk_affine") { outputs([n]) { mk_affine(a, 1.5, -0.25, $0[0], n) } },
            KernelCase(name: "mk_add_scaled") {
                outputs([n, n]) { o in
                    mk_add_scaled(a, b, 0.75, o[0], n)
                    // In place, as a gradient's rows are added into.
                    mk_add_scaled(a, b, 1, o[1], n)
                    mk_add_scaled(o[1], a, -2.5, o[1], n)
                }
            },
            KernelCase(name: "mk_pow_scalar") {
                ([2, 0.5, 1.7] as [Float]).flatMap { p in outputs([n]) { mk_pow_scalar(b, p, $0[0], n) } }
            },
            KernelCase(name: "mk_gelu") { outputs([n]) { mk_gelu(a, $0[0], n) } },
            KernelCase(name: "mk_gelu_backward") { outputs([n]) { mk_gelu_backward(a, b, $0[0], n) } },
        ]
        // exp over a range that reaches both clamps; the log family on positives.
        let wide = values(n, seed: 3, -100, 100)
        cases.append(
            KernelCase(name: "mk_unary") {
                var out: [[Float]] = []
                for op in 0...11 {
                    let positive = [MK_LOG, MK_SQRT, MK_RSQRT, MK_RECIP].contains(op)
                    let input = op == MK_EXP ? wide : (positive ? b : a)
                    out += outputs([n]) { mk_unary(Int32(op), input, $0[0], n) }
                }
                return out
            })
        return cases
    }

    static var reductions: [KernelCase] {
        let (n, rows, cols) = (KernelCase.n, KernelCase.rows, KernelCase.cols)
        let x = values(rows * cols, seed: 4)
        let big = values(n, seed: 5)
        return [
            KernelCase(name: "mk_row_sum") { outputs([rows]) { mk_row_sum(x, rows, cols, $0[0]) } },
            KernelCase(name: "mk_row_max") {
                var arg = [Int32](repeating: -1, count: rows)
                let out = outputs([rows]) { mk_row_max(x, rows, cols, $0[0], &arg) }
                return out + [arg.map(Float.init)]
            },
            KernelCase(name: "mk_col_sum_accumulate") {
                outputs([cols]) { mk_col_sum_accumulate(x, rows, cols, $0[0]) }
            },
            KernelCase(name: "mk_sum_double") { [[Float(mk_sum_double(big, n))]] },
            KernelCase(name: "mk_sum_squares_double") { [[Float(mk_sum_squares_double(big, n))]] },
            KernelCase(name: "mk_softmax_rows") { outputs([rows * cols]) { mk_softmax_rows(x, $0[0], rows, cols) } },
            KernelCase(name: "mk_log_softmax_rows") {
                outputs([rows * cols]) { mk_log_softmax_rows(x, $0[0], rows, cols) }
            },
            KernelCase(name: "mk_softmax_backward_rows") {
                let g = values(rows * cols, seed: 6)
                return outputs([rows * cols, rows * cols]) { o in
                    mk_softmax_rows(x, o[0], rows, cols)
                    mk_softmax_backward_rows(o[0], g, o[1], rows, cols)
                }
            },
            KernelCase(name: "mk_log_softmax_backward_rows") {
                let g = values(rows * cols, seed: 7)
                return outputs([rows * cols, rows * cols]) { o in
                    mk_log_softmax_rows(x, o[0], rows, cols)
                    mk_log_softmax_backward_rows(o[0], g, o[1], rows, cols)
                }
            },
            KernelCase(name: "mk_cross_entropy") {
                let labels: [Int64] = [3, -100, 76, 0, 12]
                return outputs([rows * cols, rows]) { o in
                    mk_cross_entropy(x, labels, -100, o[0], o[1], 0, rows, cols)
                }
            },
            KernelCase(name: "mk_cross_entropy_backward") {
                let labels: [Int64] = [3, -100, 76, 0, 12]
                return outputs([rows * cols, rows, rows * cols]) { o in
                    mk_cross_entropy(x, labels, -100, o[0], o[1], 0, rows, cols)
                    mk_cross_entropy_backward(o[0], labels, -100, 0.2, o[2], 0, rows, cols)
                }
            },
            KernelCase(name: "mk_strided_copy") {
                // A [7, 11, 13] tensor read as its permutation (2, 0, 1).
                let src = values(7 * 11 * 13, seed: 8)
                let shape: [Int64] = [13, 7, 11]
                let stride: [Int64] = [1, 11 * 13, 13]
                return outputs([src.count]) { mk_strided_copy(src, shape, stride, 3, $0[0]) }
            },
            KernelCase(name: "mk_copy_streaming") {
                // Lengths around the vector widths, copied to every 4-byte start within a 64-byte line (the
                // streamed part needs aligned vectors); the 16 floats past each copy must keep their -1.
                let src = values(300, seed: 21)
                var copies: [[Float]] = []
                for length in [0, 1, 7, 8, 9, 15, 16, 17, 33, 100, 257] {
                    for offset in 0..<16 {
                        copies += outputs([offset + length + 16]) { o in
                            o[0].update(repeating: -1, count: offset + length + 16)
                            mk_copy_streaming(o[0] + offset, src, length)
                        }
                    }
                }
                return copies
            },
            KernelCase(name: "mk_fma_peak") {
                // Each lane's final value (the sum over the lanes the path has, per lane): the multiplier and
                // the addend reach every chain, and the operation count matches the lanes the path ran.
                [(1000, Float(1), Float(1)), (100, 0.5, 1), (37, 1, -0.25)].map { steps, multiplier, addend in
                    var sum: Float = 0
                    let flops = mk_fma_peak(steps, multiplier, addend, &sum)
                    return [sum / Float(flops / (2 * Double(steps)))]
                }
            },
        ]
    }

    static var normalisation: [KernelCase] {
        let (rows, cols) = (KernelCase.rows, KernelCase.cols)
        let x = values(rows * cols, seed: 9, -2, 4)
        let w = values(cols, seed: 10, 0.5, 1.5)
        let b = values(cols, seed: 11)
        let gy = values(rows * cols, seed: 12)
        return [
            KernelCase(name: "mk_layer_norm") {
                outputs([rows * cols, rows, rows, rows * cols]) { o in
                    mk_layer_norm(x, w, b, o[0], o[1], o[2], 0, rows, cols, 1e-5)
                    mk_layer_norm(x, nil, nil, o[3], nil, nil, 0, rows, cols, 1e-5)
                }
            },
            KernelCase(name: "mk_layer_norm_backward", relativeTolerance: 1e-4) {
                outputs([rows * cols, rows, rows, rows * cols, cols, cols, rows * cols, rows * cols]) { o in
                    mk_layer_norm(x, w, b, o[0], o[1], o[2], 0, rows, cols, 1e-5)
                    mk_layer_norm_backward(x, w, o[1], o[2], gy, o[3], 0, o[4], o[5], 0, rows, cols)
                    mk_layer_norm_backward(x, nil, o[1], o[2], gy, o[6], 0, nil, nil, 0, rows, cols)
                    // Added to a gradient already there (o[7] starts as x).
                    o[7].update(from: x, count: rows * cols)
                    mk_layer_norm_backward(x, w, o[1], o[2], gy, o[7], 1, nil, nil, 0, rows, cols)
                }
            },
        ]
    }

    static var attention: [KernelCase] {
        let (g, h, n, period) = (4, 3, 49, 2)
        let scores = values(g * h * n * n, seed: 13, -4, 4)
        let bias = values(h * n * n, seed: 14)
        let groups = (0..<(period * n)).map { UInt8($0 * 7 % 3) }
        let gp = values(g * h * n * n, seed: 15)
        let size = g * h * n * n
        return [
            KernelCase(name: "mk_attention_softmax") {
                outputs([size, size]) { o in
                    mk_attention_softmax(scores, bias, groups, period, o[0], 0, g, h, n)
                    mk_attention_softmax(scores, nil, nil, 1, o[1], 0, g, h, n)
                }
            },
            KernelCase(name: "mk_attention_softmax_backward") {
                outputs([size, size, h * n * n]) { o in
                    mk_attention_softmax(scores, bias, groups, period, o[0], 0, g, h, n)
                    mk_attention_softmax_backward(o[0], gp, o[1], o[2], 0, g, h, n)
                }
            },
            // A whole window, a group's run of tokens (40 rows of 40 scores with the bias block at (5, 5)),
            // and a window without bias. Then the lengths at the edges of the AVX-512 path's short rows (up to
            // 64 scores in 4 vectors, 4 rows at a time): 64, 16 with rows 20 apart, 3, and 65 (past them).
            KernelCase(name: "mk_attention_softmax_block") {
                outputs([n * n, n * n, n * n, 64 * 64, 16 * 20, 3 * 3, 65 * 65]) { o in
                    o[0].update(from: scores, count: n * n)
                    mk_attention_softmax_block(o[0], n, bias, n, groups, n)
                    o[1].update(from: scores, count: n * n)
                    mk_attention_softmax_block(o[1], 40, Array(bias[(5 * n + 5)...]), n, nil, 40)
                    o[2].update(from: scores, count: n * n)
                    mk_attention_softmax_block(o[2], n, nil, 0, nil, n)
                    for (k, (len, ld)) in [(64, 64), (16, 20), (3, 3), (65, 65)].enumerated() {
                        o[3 + k].update(from: scores, count: len * ld)
                        mk_attention_softmax_block(o[3 + k], ld, bias, len, groups, len)
                    }
                }
            },
            KernelCase(name: "mk_attention_softmax_block_backward") {
                outputs([n * n, n * n, n * n, n * n, n * n, n * n]) { o in
                    o[0].update(from: scores, count: n * n)
                    mk_attention_softmax_block(o[0], n, bias, n, groups, n)
                    o[1].update(from: gp, count: n * n)
                    mk_attention_softmax_block_backward(o[0], o[1], n, o[2], n, n)
                    o[3].update(from: scores, count: n * n)
                    mk_attention_softmax_block(o[3], 40, Array(bias[(5 * n + 5)...]), n, nil, 40)
                    o[4].update(from: gp, count: n * n)
                    mk_attention_softmax_block_backward(o[3], o[4], 40, o[5] + 5 * n + 5, n, 40)
                }
            },
        ]
    }

    static var optimizers: [KernelCase] {
        let n = KernelCase.n
        let p = values(n, seed: 16)
        let grads = (0..<3).map { values(n, seed: 17 + UInt64($0)) }
        return [
            KernelCase(name: "mk_adamw") {
                outputs([n, n, n]) { o in
                    o[0].update(from: p, count: n)
                    for (t, grad) in grads.enumerated() {
                        let step = Float(t + 1)
                        mk_adamw(
                            o[0], grad, o[1], o[2], n, 1e-3, 0.9, 0.95, 1e-8, 0.05, 1 - powf(0.9, step),
                            1 - powf(0.95, step))
                    }
                }
            },
            KernelCase(name: "mk_sgd") {
                [0, 1].flatMap { nesterov in
                    outputs([n, n]) { o in
                        o[0].update(from: p, count: n)
                        for (t, grad) in grads.enumerated() {
                            mk_sgd(o[0], grad, o[1], n, 0.1, 0.9, 1e-4, Int32(nesterov), t == 0 ? 1 : 0)
                        }
                    }
                }
            },
        ]
    }

    static var dense: [KernelCase] {
        let (b, c, h, w) = (2, 3, 9, 11)
        let x = values(b * c * h * w, seed: 20)
        let conv = (k: 3, stride: 2, pad: 1, dilation: 1)
        let (ho, wo) = ((h + 2 * conv.pad - conv.k) / conv.stride + 1, (w + 2 * conv.pad - conv.k) / conv.stride + 1)
        let colsSize = c * conv.k * conv.k * b * ho * wo
        let planes = b * c
        let (rh, rw) = (5, 17)
        let gy = values(planes * rh * rw, seed: 21)
        let logits = values(7 * 10, seed: 22, -5, 5)
        let labels: [Int64] = [0, 9, 10, -1, 3, 3, 5]
        let boxes = (0..<9).flatMap { i -> [Float] in
            let v = values(4, seed: 23 + UInt64(i), 0, 10)
            return [v[0], v[1], v[0] + v[2], v[1] + v[3]]
        }
        let targets = (0..<9).flatMap { i -> [Float] in
            let v = values(4, seed: 40 + UInt64(i), 0, 10)
            return [v[0], v[1], v[0] + v[2], v[1] + v[3]]
        }
        return [
            KernelCase(name: "mk_im2col") {
                outputs([colsSize]) {
                    mk_im2col(x, b, c, h, w, conv.k, conv.stride, conv.pad, conv.dilation, ho, wo, $0[0], 0, c)
                }
            },
            KernelCase(name: "mk_col2im") {
                let cols = values(colsSize, seed: 24)
                return outputs([x.count]) {
                    mk_col2im(cols, b, c, h, w, conv.k, conv.stride, conv.pad, conv.dilation, ho, wo, $0[0], 0, c)
                }
            },
            KernelCase(name: "mk_channels_to_batch") {
                let bias = values(c, seed: 25)
                return outputs([x.count]) { mk_channels_to_batch(x, bias, c, b, h * w, $0[0], 0, c) }
            },
            KernelCase(name: "mk_batch_to_channels") {
                outputs([x.count, c]) { o in mk_batch_to_channels(x, c, b, h * w, o[0], o[1], 0, c) }
            },
            KernelCase(name: "mk_group_norm") {
                let (gw, gb) = (values(c, seed: 26, 0.5, 1.5), values(c, seed: 27))
                return outputs([x.count, b * 3, b * 3]) { o in
                    mk_group_norm(x, gw, gb, o[0], o[1], o[2], 0, b * 3, 3, 1, h * w, 1e-5)
                }
            },
            KernelCase(name: "mk_group_norm_backward", relativeTolerance: 1e-4) {
                let gw = values(c, seed: 26, 0.5, 1.5)
                let g = values(x.count, seed: 28)
                return outputs([x.count, b * 3, b * 3, x.count, c, c]) { o in
                    mk_group_norm(x, gw, nil, o[0], o[1], o[2], 0, b * 3, 3, 1, h * w, 1e-5)
                    mk_group_norm_backward(x, gw, o[1], o[2], g, o[3], o[4], o[5], 0, b * 3, 3, 1, h * w)
                }
            },
            KernelCase(name: "mk_resize_bilinear") {
                [0, 1].flatMap { corners in
                    outputs([planes * rh * rw]) {
                        mk_resize_bilinear(x, h, w, rh, rw, Int32(corners), $0[0], 0, planes)
                    }
                }
            },
            KernelCase(name: "mk_resize_bilinear_backward") {
                [0, 1].flatMap { corners in
                    outputs([x.count]) {
                        mk_resize_bilinear_backward(gy, h, w, rh, rw, Int32(corners), $0[0], 0, planes)
                    }
                }
            },
            KernelCase(name: "mk_resize_nearest") {
                outputs([planes * rh * rw]) { mk_resize_nearest(x, h, w, rh, rw, $0[0], 0, planes) }
            },
            KernelCase(name: "mk_resize_nearest_backward") {
                outputs([x.count]) { mk_resize_nearest_backward(gy, h, w, rh, rw, $0[0], 0, planes) }
            },
            KernelCase(name: "mk_adaptive_avg_pool") {
                outputs([planes * 4 * 3]) { mk_adaptive_avg_pool(x, h, w, 4, 3, $0[0], 0, planes) }
            },
            KernelCase(name: "mk_adaptive_avg_pool_backward") {
                let g = values(planes * 4 * 3, seed: 29)
                return outputs([x.count]) { mk_adaptive_avg_pool_backward(g, h, w, 4, 3, $0[0], 0, planes) }
            },
            KernelCase(name: "mk_sigmoid_focal") {
                [0.0, 1.0, 2.0, 1.5].flatMap { gamma in
                    outputs([logits.count, logits.count]) { o in
                        mk_sigmoid_focal(logits, labels, 10, 0.25, Float(gamma), o[0], o[1], 0, 7)
                    }
                }
            },
            KernelCase(name: "mk_bce_logits") {
                let t = values(logits.count, seed: 30, 0, 1)
                return outputs([logits.count, logits.count]) { o in
                    mk_bce_logits(logits, t, o[0], o[1], logits.count)
                }
            },
            KernelCase(name: "mk_giou_loss") {
                outputs([9, 36]) { o in mk_giou_loss(boxes, targets, 9, 1e-6, o[0], o[1]) }
            },
        ]
    }
}

extension KernelCase {
    /// mk_sgemm on shapes with edges in every direction, each transpose, alpha and beta; where a path has no
    /// kernel of its own (portable), the case runs OpenBLAS, as MixKit does, so the other paths are compared with it.
    static var gemm: [KernelCase] {
        [
            KernelCase(name: "mk_sgemm", relativeTolerance: 1e-4) {
                var out: [[Float]] = []
                for (m, n, k) in [(37, 70, 29), (12, 32, 400), (130, 5, 3)] {
                    for (ta, tb) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let a = values(m * k, seed: UInt64(m + k))
                        let b = values(k * n, seed: UInt64(n + k))
                        let c = values(m * n, seed: 7)
                        let (lda, ldb) = (ta == 1 ? m : k, tb == 1 ? k : n)
                        let bias = values(n, seed: 11)
                        for (alpha, beta, withBias) in [(Float(1), Float(0), false), (0.5, 1, false), (2, 0, true)] {
                            out += outputs([m * n]) { o in
                                o[0].update(from: c, count: m * n)
                                let handled = bias.withUnsafeBufferPointer { pb in
                                    mk_sgemm(
                                        Int32(ta), Int32(tb), m, n, k, alpha, a, lda, b, ldb, beta, o[0], n,
                                        withBias ? pb.baseAddress : nil)
                                }
                                if handled == 0 {
                                    if withBias { for r in 0..<m { (o[0] + r * n).update(from: bias, count: n) } }
                                    cblas_sgemm(
                                        CblasRowMajor, ta == 1 ? CblasTrans : CblasNoTrans,
                                        tb == 1 ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), alpha, a,
                                        Int32(lda), b, Int32(ldb), withBias ? 1 : beta, o[0], Int32(n))
                                }
                            }
                        }
                    }
                }
                return out
            },
            KernelCase(name: "mk_sgemm_epilogue", relativeTolerance: 1e-4) {
                var out: [[Float]] = []
                // (200, 500, 40): two column panels; (12, 32, 400): the epilogue after the second reduction block.
                // Inputs are multiples of 1/4, so the product, bias, residual and factor are exact on every path and
                // whatever order it sums in: the case compares the epilogue, not the GEMM's rounding, which GELU's
                // slope (zero near -0.75) would turn into a large relative difference (the mk_sgemm case covers it).
                for (m, n, k) in [(37, 70, 29), (12, 32, 400), (200, 500, 40)] {
                    for (ta, tb) in [(0, 0), (0, 1), (1, 0)] {
                        let a = quarters(m * k, seed: UInt64(m + k))
                        let b = quarters(k * n, seed: UInt64(n + k))
                        let residual = quarters(m * n, seed: 13)
                        let factor = quarters(m * n, seed: 15)
                        let (lda, ldb) = (ta == 1 ? m : k, tb == 1 ? k : n)
                        let bias = quarters(n, seed: 11)
                        // Steps: a residual, a factor, GELU (in place or to the second output), GELU's slope in place.
                        let steps = [
                            (true, false, false, false, false), (false, false, true, false, false),
                            (true, false, true, true, false), (false, true, false, false, false),
                            (true, true, true, false, true),
                        ]
                        for (adds, multiplies, gelu, inPlace, slope) in steps {
                            out += outputs([m * n, m * n]) { o in
                                residual.withUnsafeBufferPointer { pr in
                                    factor.withUnsafeBufferPointer { pf in
                                        var epilogue = mk_gemm_epilogue(
                                            addend: adds ? pr.baseAddress : nil, ld_addend: n,
                                            factor: multiplies ? pf.baseAddress : nil, ld_factor: n,
                                            gelu_out: gelu ? (inPlace ? o[0] : o[1]) : nil, ld_gelu_out: n,
                                            slope_out: slope ? o[0] : nil, ld_slope_out: n)
                                        let handled = mk_sgemm_epilogue(
                                            Int32(ta), Int32(tb), m, n, k, 1, a, lda, b, ldb, 0, o[0], n, bias,
                                            &epilogue)
                                        if handled == 0 {
                                            for r in 0..<m { (o[0] + r * n).update(from: bias, count: n) }
                                            cblas_sgemm(
                                                CblasRowMajor, ta == 1 ? CblasTrans : CblasNoTrans,
                                                tb == 1 ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a,
                                                Int32(lda), b, Int32(ldb), 1, o[0], Int32(n))
                                            mk_gemm_apply_epilogue(&epilogue, o[0], n, m, n)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                return out
            },
            KernelCase(name: "mk_gemm_apply_epilogue") {
                let (m, n) = (9, 37)
                let c = values(m * n, seed: 17, -4, 4)
                let residual = values(m * n, seed: 19)
                return outputs([m * n, m * n]) { o in
                    o[0].update(from: c, count: m * n)
                    residual.withUnsafeBufferPointer { pr in
                        var epilogue = mk_gemm_epilogue(
                            addend: pr.baseAddress, ld_addend: n, factor: nil, ld_factor: 0, gelu_out: o[1],
                            ld_gelu_out: n, slope_out: o[0], ld_slope_out: n)
                        mk_gemm_apply_epilogue(&epilogue, o[0], n, m, n)
                    }
                }
            },
        ]
    }
}

extension KernelCase {
    /// mk_attention_scores and mk_attention_apply on runs of 5, 32, 33 and 70 tokens (operand rows further apart
    /// than the head, a transposed `p`); on the portable path, which leaves them to the BLAS, the case runs OpenBLAS,
    /// as MixKit does.
    static var headProducts: [KernelCase] {
        let d = Int(MK_ATTENTION_HEAD_DIM)
        let lengths = [5, 32, 33, 70]
        return [
            KernelCase(name: "mk_attention_scores", relativeTolerance: 1e-4) {
                lengths.flatMap { len in
                    let (a, b) = (values(len * (d + 3), seed: UInt64(len)), values(len * (2 * d), seed: 5))
                    var scratch = [Float](repeating: 0, count: d * (len + d))
                    return outputs([len * len]) { o in
                        if mk_attention_scores(a, d + 3, b, 2 * d, len, 0.4, o[0], len, &scratch) == 0 {
                            cblas_sgemm(
                                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(len), Int32(len), Int32(d), 0.4, a,
                                Int32(d + 3), b, Int32(2 * d), 0, o[0], Int32(len))
                        }
                    }
                }
            },
            KernelCase(name: "mk_attention_apply", relativeTolerance: 1e-4) {
                lengths.flatMap { len in
                    [Int32(0), 1].flatMap { transposed in
                        let (p, v) = (values(len * len, seed: UInt64(len) + 1), values(len * (3 * d), seed: 6))
                        return outputs([len * d]) { o in
                            if mk_attention_apply(p, len, transposed, v, 3 * d, len, -0.5, o[0], d) == 0 {
                                cblas_sgemm(
                                    CblasRowMajor, transposed == 1 ? CblasTrans : CblasNoTrans, CblasNoTrans,
                                    Int32(len), Int32(d), Int32(len), -0.5, p, Int32(len), v, Int32(3 * d), 0, o[0],
                                    Int32(d))
                            }
                        }
                    }
                }
            },
        ]
    }
}
