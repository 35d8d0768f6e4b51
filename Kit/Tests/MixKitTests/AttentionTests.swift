import MixKit
import MixKitTesting
import Testing

@Suite struct AttentionTests {
    let check = GradientCheck()

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
}
