import Dispatch
import Foundation
import MixKit
import MixKitTesting
import Testing

final class TinyBlock: Module {
    let norm1 = LayerNorm(8)
    let attn: MultiHeadAttention
    let mlp: MLP
    let relativePositionBiasTable = Tensor.zeros([3, 2]).asParameter()
    let fixedTable = Tensor.zeros([4])
    let downsample: Linear?

    init(downsample: Bool, rng: RandomSource) {
        attn = MultiHeadAttention(dim: 8, heads: 2, rng: rng)
        mlp = MLP(8, hidden: 16, dropRate: 0.25, rng: rng)
        self.downsample = downsample ? Linear(8, 4, bias: false, rng: rng) : nil
        super.init()
    }
}

final class TinyModel: Module {
    let blocks: [TinyBlock]
    let head: Linear

    init(rng: RandomSource) {
        blocks = [TinyBlock(downsample: false, rng: rng), TinyBlock(downsample: true, rng: rng)]
        head = Linear(8, 3, rng: rng)
        super.init()
    }
}

@Suite struct ModuleTests {
    let check = GradientCheck(samplesPerInput: 10)

    @Test func namesFollowPyTorchConventions() {
        let model = TinyModel(rng: RandomSource(seed: 0))
        let names = model.namedTensors().map(\.0)
        #expect(names.contains("blocks.0.norm1.weight"))
        #expect(names.contains("blocks.1.attn.qkv.weight"))
        #expect(names.contains("blocks.1.mlp.fc2.bias"))
        #expect(names.contains("blocks.0.relative_position_bias_table"))
        #expect(names.contains("blocks.1.downsample.weight"))
        #expect(!names.contains("blocks.0.downsample.weight"))
        #expect(names.contains("blocks.0.fixed_table"))
        let params = model.namedParameters().map(\.0)
        #expect(!params.contains("blocks.0.fixed_table"))
        #expect(params.contains("head.bias"))
        #expect(model.namedModules().map(\.0).contains("blocks.1.attn.proj"))
    }

    @Test func stateDictRoundTripAndErrorsReportEverything() throws {
        let a = TinyModel(rng: RandomSource(seed: 1))
        let b = TinyModel(rng: RandomSource(seed: 2))
        #expect(a.stateDict()["head.weight"]!.scalars != b.stateDict()["head.weight"]!.scalars)
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
        let rng = RandomSource(seed: 1)
        let lin = Linear(6, 4, rng: rng)
        check.expect([randn([2, 3, 6], seed: 1), lin.weight, lin.bias!]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        let mlp = MLP(6, hidden: 12, rng: rng)
        check.expect([randn([5, 6], seed: 2), mlp.fc1.weight, mlp.fc2.bias!]) { mlp($0[0]) }
        let embed = PatchEmbed(patchSize: 2, inChannels: 3, dim: 8, rng: rng)
        let image = randn([2, 3, 4, 6], seed: 3)
        check.expect([image, embed.proj.weight, embed.proj.bias, embed.norm!.weight]) { inputs in embed(inputs[0]) }
    }

    @Test func patchEmbedEqualsConvolution() {
        let embed = PatchEmbed(patchSize: 2, inChannels: 2, dim: 3, normalize: false, rng: RandomSource(seed: 2))
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
        let attn = MultiHeadAttention(dim: 8, heads: 2, rng: RandomSource(seed: 3))
        let bias = randn([2, 4, 4], seed: 5)
        let groups: [UInt8] = [0, 1, 1, 0]
        check.expect([randn([3, 4, 8], seed: 6), bias, attn.qkv.weight, attn.proj.weight]) { inputs in
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

    /// A model is a function of its generator alone: what else draws in the process,
    /// on this thread or another, changes nothing.
    @Test func aModelDrawsOnlyFromItsOwnGenerator() {
        let reference = TinyModel(rng: RandomSource(seed: 4)).stateDict()
        let other = RandomSource(seed: 4)
        _ = TinyModel(rng: other)
        let again = TinyModel(rng: RandomSource(seed: 4)).stateDict()
        for (name, t) in reference { #expect(t.scalars == again[name]!.scalars, "\(name)") }
        // Built on four threads at once, from sources of the same seed.
        let built = UnsafeSendableBox<[[String: Tensor]]>(Array(repeating: [:], count: 4))
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let state = TinyModel(rng: RandomSource(seed: 4)).stateDict()
            built.withLock { $0[i] = state }
        }
        for state in built.value {
            for (name, t) in reference { #expect(t.scalars == state[name]!.scalars, "\(name)") }
        }
    }

    /// Dropout masks come from the model's generator: the same seed and state give
    /// the same masks, and a restored state continues the sequence exactly.
    @Test func dropoutDrawsFromTheModelsGeneratorAndResumes() {
        let x = randn([4, 8], seed: 8)
        func run(_ rng: RandomSource) -> (MLP, [Float]) {
            let mlp = MLP(8, hidden: 16, dropRate: 0.5, rng: rng)
            return (mlp, withNoGrad { mlp(x) }.scalars)
        }
        let (mlp, first) = run(RandomSource(seed: 5))
        #expect(run(RandomSource(seed: 5)).1 == first)
        let saved = mlp.rng.state
        let next = withNoGrad { mlp(x) }.scalars
        #expect(next != first)
        #expect(mlp.rng.restore(saved))
        #expect(withNoGrad { mlp(x) }.scalars == next)
        mlp.train(false)
        #expect(withNoGrad { mlp(x) }.scalars != next)
        #expect(!mlp.rng.restore([1, 2]))
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

/// A value shared by the threads of one test, behind a lock.
final class UnsafeSendableBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var value: Value

    init(_ value: Value) { self.value = value }

    func withLock(_ body: (inout Value) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&value)
    }
}
