import MixKit

// The two C entry points every mixmae plugin exports, and the component this
// library registers. The host calls `mixmae_plugin_abi` first and checks the
// stamp (SDK version, compiler, SDK identity) before it calls register.

extension PVTBackbone {
    static let descriptor = ComponentDescriptor(
        id: "pvt", kind: .backbone, version: "0.1.0", license: "Apache-2.0",
        summary: "Pyramid Vision Transformer v2: overlapping patch embedding, spatial-reduction attention",
        parameters: PVTConfig.schema,
        capabilities: { params in
            (try? PVTConfig(params).capabilities)
                ?? BackboneCapabilities(outputs: [], supportsMixing: false, inputChannels: 3, imageSize: 224)
        },
        validate: { params, _ in try PVTConfig(params).plan },
        build: { params, context in PVTBackbone(try PVTConfig(params), rng: context.rng) },
        probe: { module, params, _ in
            let pvt = module as! PVTBackbone
            let c = pvt.config
            var rng = RandomGenerator(seed: 0)
            let images = Tensor.randomNormal([2, c.inChannels, c.imageSize, c.imageSize], using: &rng)
            // A fixed random linear read-out of every feature map, summed over channels and
            // averaged over tokens. (The mean square of a LayerNorm output would be
            // constant, and its gradient zero.)
            func readOut(_ maps: [FeatureMap]) -> Tensor {
                maps.map { map in
                    let weights = Tensor.randomNormal(map.tensor.shape, using: &rng)
                    return (map.tensor * weights).sum() / Float(map.tensor.shape[0] * map.tensor.shape[1])
                }.reduce(Tensor(scalar: 0), +)
            }
            let plain = readOut(pvt.features(images.slice(axis: 0, 0..<1), mixing: nil))
            guard c.mixing else { return plain }
            // The MixMAE path too: the pair mixed with a checkerboard mask, which puts a
            // boundary between the two source images at every mask unit.
            let side = c.imageSize / PVTConfig.maskUnit
            let checkerboard = (0..<(side * side)).map { UInt8(($0 / side + $0 % side) % 2) }
            let mask = MixingMask(height: side, width: side, values: checkerboard)
            return plain + readOut(pvt.features(images, mixing: mask))
        })
}

/// The component this library registers, for the package's own tests (the host
/// finds it through `mixmae_plugin_register`).
public enum PVTPlugin {
    public static let descriptor = PVTBackbone.descriptor
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { $0.add(PVTBackbone.descriptor) }
}
