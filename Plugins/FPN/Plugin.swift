import MixKit

extension FeaturePyramid {
    static let descriptor = ComponentDescriptor(
        id: "fpn", kind: .neck, version: "1.0.0", license: "Apache-2.0",
        summary: "Feature pyramid network: lateral 1x1, top-down fusion, 3x3 outputs, P6/P7 extra levels (mmdet FPN)",
        parameters: FPNConfig.schema,
        exampleContext: { _ in
            BuildContext(
                inputs: [
                    FeatureSpec(stride: 4, channels: 16), FeatureSpec(stride: 8, channels: 32),
                    FeatureSpec(stride: 16, channels: 64), FeatureSpec(stride: 32, channels: 128),
                ], imageSize: 128)
        },
        validate: { params, context in
            let config = try FPNConfig(params, inputs: context.inputs)
            var strides = context.inputs[config.startLevel...].map(\.stride)
            while strides.count < config.numOuts { strides.append((strides.last ?? 1) * 2) }
            let c = Double(config.outChannels)
            let lateral = context.inputs[config.startLevel...].reduce(0.0) { $0 + Double($1.channels) * c }
            let tokens = strides.reduce(0.0) { total, stride in
                let side = Double(context.imageSize / max(stride, 1))
                return total + side * side
            }
            return ComponentPlan(
                parameterCount: lateral + Double(strides.count) * 9 * c * c, activationsPerImage: 3 * tokens * c,
                outputs: strides.prefix(config.numOuts).map { FeatureSpec(stride: $0, channels: config.outChannels) })
        },
        build: { params, context in
            FeaturePyramid(try FPNConfig(params, inputs: context.inputs), inputs: context.inputs, rng: context.rng)
        },
        probe: { module, _, context in
            let fpn = module as! FeaturePyramid
            var rng = RandomGenerator(seed: 0)
            let features = context.inputs.map { spec in
                let side = context.imageSize / spec.stride
                return FeatureMap(
                    tensor: Tensor.randomNormal([2, side * side, spec.channels], using: &rng), height: side,
                    width: side, stride: spec.stride)
            }
            // A fixed random linear read-out of every output level.
            return fpn(features).map { map in
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
    PluginRegistrar.register(into: registrar) { $0.add(FeaturePyramid.descriptor) }
}
