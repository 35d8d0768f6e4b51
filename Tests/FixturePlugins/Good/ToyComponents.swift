import MixKit

// A test-only plugin with three small components: a toy backbone that passes
// `mixmae plugins check`, a head whose gradient is wrong on purpose, and a neck
// with a required parameter. The host's tests load it through a registry.yaml.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { r in
        r.add(ToyBackbone.descriptor)
        r.add(ToyBrokenHead.descriptor)
        r.add(ToyNeck.descriptor)
    }
}

/// Patch embedding, an optional residual MLP, and a 2x2 token merge: two feature maps.
final class ToyBackbone: Module, Backbone {
    let patchEmbed: PatchEmbed
    let fc1: Linear?
    let fc2: Linear?
    let reduce: Linear
    let patchSize: Int
    let relu: Bool
    let capabilities: BackboneCapabilities

    static let schema: [ParameterSpec] = [
        .int("img_size", default: 32, range: 8...1024, doc: "Square input size in pixels."),
        .int("in_chans", default: 3, range: 1...16, doc: "Input channels."),
        .int("patch_size", default: 8, range: 1...64, doc: "Side of a patch."),
        .int("embed_dim", default: 8, range: 1...4096, doc: "Channels of the first feature map."),
        .float("mlp_ratio", default: 2.0, range: 0.5...16, doc: "Hidden width of the MLP over embed_dim."),
        .bool("use_mlp", default: true, doc: "Whether to apply the residual MLP."),
        .string("activation", default: "gelu", allowed: ["gelu", "relu"], doc: "Activation of the MLP."),
        .intList("out_indices", default: [0, 1], range: 0...1, doc: "Which feature maps to emit."),
    ]

    static func capabilities(_ p: Parameters) -> BackboneCapabilities {
        let dims = [p.int("embed_dim"), 2 * p.int("embed_dim")]
        let strides = [p.int("patch_size"), 2 * p.int("patch_size")]
        return BackboneCapabilities(
            outputs: p.intList("out_indices").map { FeatureSpec(stride: strides[$0], channels: dims[$0]) },
            supportsMixing: true, inputChannels: p.int("in_chans"), imageSize: p.int("img_size"))
    }

    static let descriptor = ComponentDescriptor(
        id: "toy-backbone", kind: .backbone, version: "1.2.0", license: "MIT",
        summary: "A two-stage toy backbone for the host's tests", parameters: schema,
        capabilities: capabilities,
        build: { p, context in
            guard p.int("img_size") % (2 * p.int("patch_size")) == 0 else {
                throw ComponentConfigurationError(
                    parameter: "img_size", problem: "must be a multiple of 2 * patch_size = \(2 * p.int("patch_size"))")
            }
            return ToyBackbone(p, rng: context.rng)
        },
        probe: { module, p, _ in
            let backbone = module as! ToyBackbone
            let size = p.int("img_size")
            let count = 2 * p.int("in_chans") * size * size
            let images = Tensor(
                shape: [2, p.int("in_chans"), size, size],
                scalars: (0..<count).map { Float(($0 * 37) % 101) / 50 - 1 })
            return backbone.features(images, mixing: nil).map { $0.tensor.square().mean() }.reduce(Tensor(scalar: 0), +)
        })

    init(_ p: Parameters, rng: RandomSource) {
        let dim = p.int("embed_dim")
        patchSize = p.int("patch_size")
        patchEmbed = PatchEmbed(patchSize: patchSize, inChannels: p.int("in_chans"), dim: dim, rng: rng)
        let hidden = Int(Double(dim) * p.float("mlp_ratio"))
        fc1 = p.bool("use_mlp") ? Linear(dim, hidden, rng: rng) : nil
        fc2 = p.bool("use_mlp") ? Linear(hidden, dim, rng: rng) : nil
        relu = p.string("activation") == "relu"
        reduce = Linear(4 * dim, 2 * dim, rng: rng)
        capabilities = ToyBackbone.capabilities(p)
        super.init()
    }

    func features(_ images: Tensor, mixing: MixingMask?) -> [FeatureMap] {
        let h = images.shape[2] / patchSize
        let w = images.shape[3] / patchSize
        var x = patchEmbed(images)
        if let mixing { x = mixing.mix(x, height: h, width: w) }
        if let fc1, let fc2 { x = x + fc2(relu ? fc1(x).relu() : fc1(x).gelu()) }
        let b = x.shape[0]
        let c = x.shape[2]
        let merged = x.reshaped([b, h / 2, 2, w / 2, 2, c]).permuted([0, 1, 3, 2, 4, 5])
            .reshaped([b, h * w / 4, 4 * c])
        let maps = [
            FeatureMap(tensor: x, height: h, width: w, stride: patchSize),
            FeatureMap(tensor: reduce(merged), height: h / 2, width: w / 2, stride: 2 * patchSize),
        ]
        return capabilities.outputs.map { spec in maps.first { $0.stride == spec.stride }! }
    }

    func layerIndex(ofParameter name: String) -> Int { name.hasPrefix("patch_embed") ? 0 : 1 }
    var layerCount: Int { 2 }
}

/// A linear head whose probe multiplies its output by a detached copy of
/// itself, so the recorded gradient is half the true one: `plugins check` must fail.
final class ToyBrokenHead: Module {
    let fc: Linear

    static let descriptor = ComponentDescriptor(
        id: "toy-broken-gradient", kind: .head, version: "0.0.1", license: "MIT",
        summary: "A head whose gradient is wrong on purpose (a detached factor)",
        parameters: [.int("in_features", default: 6, range: 1...64, doc: "Input width.")],
        build: { p, context in ToyBrokenHead(p.int("in_features"), rng: context.rng) },
        probe: { module, p, _ in
            let head = module as! ToyBrokenHead
            let n = p.int("in_features")
            let x = Tensor(shape: [3, n], scalars: (0..<(3 * n)).map { Float($0 % 7) / 3 - 1 })
            let y = head.fc(x)
            return (y * y.detached()).mean()
        })

    init(_ n: Int, rng: RandomSource) {
        fc = Linear(n, 4, rng: rng)
        super.init()
    }
}

/// A neck with a required parameter, which `plugins check` cannot fill in.
final class ToyNeck: Module {
    let fc: Linear

    static let descriptor = ComponentDescriptor(
        id: "toy-neck", kind: .neck, version: "0.3.0", license: "BSD-3-Clause",
        summary: "A neck with a required parameter",
        parameters: [.int("out_channels", default: nil, range: 1...1024, doc: "Channels of every output.")],
        exampleContext: { _ in BuildContext(inputs: [FeatureSpec(stride: 8, channels: 8)], imageSize: 32) },
        build: { p, context in ToyNeck(context.inputs[0].channels, p.int("out_channels"), rng: context.rng) },
        probe: { module, _, context in
            let neck = module as! ToyNeck
            let c = context.inputs[0].channels
            return neck.fc(Tensor.ones([1, 4, c])).mean()
        })

    init(_ inChannels: Int, _ outChannels: Int, rng: RandomSource) {
        fc = Linear(inChannels, outChannels, rng: rng)
        super.init()
    }
}
