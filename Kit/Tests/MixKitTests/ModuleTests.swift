import Foundation
import MixKit
import Testing

final class TinyBlock: Module {
    let norm1 = LayerNorm(8)
    let attn = MultiHeadAttention(dim: 8, heads: 2)
    let mlp = MLP(8, hidden: 16)
    let relativePositionBiasTable = Tensor.zeros([3, 2]).asParameter()
    let fixedTable = Tensor.zeros([4])
    let downsample: Linear?

    init(downsample: Bool) {
        self.downsample = downsample ? Linear(8, 4, bias: false) : nil
        super.init()
    }
}

final class TinyModel: Module {
    let blocks = [TinyBlock(downsample: false), TinyBlock(downsample: true)]
    let head = Linear(8, 3)
}

@Suite struct ModuleTests {
    let check = GradientCheck(samplesPerInput: 10)

    @Test func namesFollowPyTorchConventions() {
        let names = TinyModel().namedTensors().map(\.0)
        #expect(names.contains("blocks.0.norm1.weight"))
        #expect(names.contains("blocks.1.attn.qkv.weight"))
        #expect(names.contains("blocks.1.mlp.fc2.bias"))
        #expect(names.contains("blocks.0.relative_position_bias_table"))
        #expect(names.contains("blocks.1.downsample.weight"))
        #expect(!names.contains("blocks.0.downsample.weight"))
        #expect(names.contains("blocks.0.fixed_table"))
        let params = TinyModel().namedParameters().map(\.0)
        #expect(!params.contains("blocks.0.fixed_table"))
        #expect(params.contains("head.bias"))
        #expect(TinyModel().namedModules().map(\.0).contains("blocks.1.attn.proj"))
    }

    @Test func stateDictRoundTripAndErrorsReportEverything() throws {
        let a = TinyModel()
        let b = TinyModel()
        try b.load(stateDict: a.stateDict())
        for ((n1, t1), (n2, t2)) in zip(a.namedTensors(), b.namedTensors()) {
            #expect(n1 == n2)
            #expect(t1.scalars == t2.scalars)
            #expect(t1 !== t2)
        }
        var state = a.stateDict()
        state.removeValue(forKey: "head.weight")
        state["extra.weight"] = Tensor.zeros([1])
        state["head.bias"] = Tensor.zeros([4])
        do {
            try b.load(stateDict: state)
            Issue.record("load should fail")
        } catch let error as StateDictError {
            #expect(error.missing == ["head.weight"])
            #expect(error.unexpected == ["extra.weight"])
            #expect(error.mismatched.map(\.0) == ["head.bias"])
            #expect(error.description.contains("head.bias: model has [3], file has [4]"))
        }
        // Non-strict ignores missing and unexpected names but never wrong shapes.
        state["head.bias"] = Tensor.zeros([3])
        try b.load(stateDict: state, strict: false)
    }

    @Test func layerGradients() {
        Random.seed(1)
        let lin = Linear(6, 4)
        check.check([randn([2, 3, 6], seed: 1), lin.weight, lin.bias!]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        let mlp = MLP(6, hidden: 12)
        check.check([randn([5, 6], seed: 2), mlp.fc1.weight, mlp.fc2.bias!]) { mlp($0[0]) }
        let embed = PatchEmbed(patchSize: 2, inChannels: 3, dim: 8)
        let image = randn([2, 3, 4, 6], seed: 3)
        check.check([image, embed.proj.weight, embed.proj.bias, embed.norm!.weight]) { inputs in embed(inputs[0]) }
    }

    @Test func patchEmbedEqualsConvolution() {
        Random.seed(2)
        let embed = PatchEmbed(patchSize: 2, inChannels: 2, dim: 3, normalize: false)
        let x = randn([1, 2, 4, 4], seed: 4)
        let y = embed(x)
        #expect(y.shape == [1, 4, 3])
        // Direct convolution with kernel = stride = 2.
        let w = embed.proj.weight
        for py in 0..<2 {
            for px in 0..<2 {
                for o in 0..<3 {
                    var s = embed.proj.bias.data[o]
                    for c in 0..<2 {
                        for ky in 0..<2 {
                            for kx in 0..<2 {
                                s +=
                                    w.data[((o * 2 + c) * 2 + ky) * 2 + kx]
                                    * x.data[(c * 4 + py * 2 + ky) * 4 + px * 2 + kx]
                            }
                        }
                    }
                    #expect(abs(y.data[(py * 2 + px) * 3 + o] - s) < 1e-5)
                }
            }
        }
    }

    @Test func attentionWithBiasAndGroupsHasGradients() {
        Random.seed(3)
        let attn = MultiHeadAttention(dim: 8, heads: 2)
        let bias = randn([2, 4, 4], seed: 5)
        let groups: [UInt8] = [0, 1, 1, 0]
        check.check([randn([3, 4, 8], seed: 6), bias, attn.qkv.weight, attn.proj.weight]) { inputs in
            attn(inputs[0], bias: inputs[1], groups: groups)
        }
        // A token of group 0 is unaffected by the values of group-1 tokens.
        let x = randn([1, 4, 8], seed: 7)
        let y1 = attn(x, groups: groups)
        let x2 = x.copy()
        for j in 0..<8 { x2.data[1 * 8 + j] += 5 }
        let y2 = attn(x2, groups: groups)
        for j in 0..<8 {
            #expect(abs(y1.data[j] - y2.data[j]) < 1e-5)
            #expect(abs(y1.data[3 * 8 + j] - y2.data[3 * 8 + j]) < 1e-5)
        }
    }

    @Test func sinCosEmbeddingMatchesMAE() {
        let pe = sinCosPositionEmbedding(dim: 8, gridSize: 3)
        #expect(pe.shape == [9, 8])
        // Token (h=0, w=1): the first half encodes w = 1, the second h = 0.
        #expect(abs(pe.data[8 + 0] - sin(1)) < 1e-6)
        #expect(abs(pe.data[8 + 2] - cos(1)) < 1e-6)
        #expect(pe.data[8 + 4] == 0)
        #expect(pe.data[8 + 6] == 1)
    }
}
