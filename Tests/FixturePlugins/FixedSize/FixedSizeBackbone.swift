import MixKit

// A test-only plugin: a backbone that takes only `img_size` squares (its capabilities do
// not declare `arbitraryInputSize`), with four feature maps at strides 4 to 32 and a
// `validate` plan, so that a dense recipe on it passes the recipe checks and the host's
// refusal of the size is what stops it.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { r in r.add(FixedSizeBackbone.descriptor) }
}

/// Patch embedding (stride 4), then three 2x2 token merges: maps at strides 4, 8, 16, 32.
final class FixedSizeBackbone: Module, Backbone {
    let patchEmbed: PatchEmbed
    let merges: [Linear]
    let capabilities: BackboneCapabilities

    static let schema: [ParameterSpec] = [
        .int("img_size", default: 64, range: 32...1024, doc: "Square input size in pixels; a multiple of 32."),
        .int("embed_dim", default: 8, range: 1...512, doc: "Channels of every feature map."),
    ]

    static func capabilities(_ p: Parameters) -> BackboneCapabilities {
        BackboneCapabilities(
            outputs: [4, 8, 16, 32].map { FeatureSpec(stride: $0, channels: p.int("embed_dim")) },
            supportsMixing: false, inputChannels: 3, imageSize: p.int("img_size"))
    }

    static let descriptor = ComponentDescriptor(
        id: "fixed-size-backbone", kind: .backbone, version: "1.0.0", license: "MIT",
        summary: "A backbone that takes only img_size squares, for the host's tests", parameters: schema,
        capabilities: capabilities,
        validate: { p, _ in
            guard p.int("img_size") % 32 == 0 else {
                throw ComponentConfigurationError(parameter: "img_size", problem: "must be a multiple of 32")
            }
            let c = Double(p.int("embed_dim"))
            return ComponentPlan(
                parameterCount: 48 * c + c + 3 * (4 * c * c + c), activationsPerImage: Double(p.int("img_size") * 4),
                outputs: capabilities(p).outputs)
        },
        build: { p, context in FixedSizeBackbone(p, rng: context.rng) },
        probe: { module, p, _ in
            let backbone = module as! FixedSizeBackbone
            let size = p.int("img_size")
            let images = Tensor(
                shape: [1, 3, size, size], scalars: (0..<(3 * size * size)).map { Float(($0 * 37) % 101) / 50 - 1 })
            return backbone.features(images, mixing: nil).map { $0.tensor.square().mean() }.reduce(Tensor(scalar: 0), +)
        })

    init(_ p: Parameters, rng: RandomSource) {
        let dim = p.int("embed_dim")
        patchEmbed = PatchEmbed(patchSize: 4, inChannels: 3, dim: dim, rng: rng)
        merges = (0..<3).map { _ in Linear(4 * dim, dim, rng: rng) }
        capabilities = FixedSizeBackbone.capabilities(p)
        super.init()
    }

    func features(_ images: Tensor, mixing: MixingMask?) -> [FeatureMap] {
        var (h, w) = (images.shape[2] / 4, images.shape[3] / 4)
        var x = patchEmbed(images)
        var maps = [FeatureMap(tensor: x, height: h, width: w, stride: 4)]
        for (s, merge) in merges.enumerated() {
            let (b, c) = (x.shape[0], x.shape[2])
            x = merge(
                x.reshaped([b, h / 2, 2, w / 2, 2, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b, h * w / 4, 4 * c]))
            (h, w) = (h / 2, w / 2)
            maps.append(FeatureMap(tensor: x, height: h, width: w, stride: 8 << s))
        }
        return maps
    }

    func layerIndex(ofParameter name: String) -> Int { name.hasPrefix("patch_embed") ? 0 : 1 }
    var layerCount: Int { 2 }
}
