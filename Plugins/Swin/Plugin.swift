import MixKit
import MixSwinModel

extension SwinBackbone {
    static let descriptor = ComponentDescriptor(
        id: "swin", kind: .backbone, version: "1.0.0", license: "Apache-2.0",
        summary: "Swin transformer without shifted windows, large windows, MixMAE mixing (MixMIM encoder)",
        parameters: SwinConfig.schema,
        capabilities: { params in
            (try? SwinConfig(params).capabilities)
                ?? BackboneCapabilities(outputs: [], supportsMixing: true, inputChannels: 3, imageSize: 224)
        },
        validate: { params, _ in try SwinConfig(params).plan },
        build: { params, context in SwinBackbone(try SwinConfig(params), rng: context.rng) },
        probe: { module, params, _ in
            let swin = module as! SwinBackbone
            let c = swin.config
            var rng = RandomGenerator(seed: 0)
            let images = Tensor.randomNormal([2, c.inChannels, c.imageSize, c.imageSize], using: &rng)
            let side = c.gridSide(stage: c.stageCount - 1)
            let mask = MixingMask(height: side, width: side, values: (0..<(side * side)).map { UInt8($0 % 2) })
            // A fixed random linear read-out of every feature map (the mean square of a
            // LayerNorm output would be nearly constant, its gradient nearly zero).
            return swin.features(images, mixing: mask).map { map in
                let weights = Tensor.randomNormal(map.tensor.shape, using: &rng)
                return (map.tensor * weights).sum() / Float(map.tensor.shape[0] * map.tensor.shape[1])
            }.reduce(Tensor(scalar: 0), +)
        })
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { $0.add(SwinBackbone.descriptor) }
}
