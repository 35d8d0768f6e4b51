import MixKit

extension UperNetHead {
    static let descriptor = ComponentDescriptor(
        id: "upernet", kind: .head, version: "1.0.0", license: "Apache-2.0",
        summary: "UperNet segmentation head: pyramid pooling + FPN fusion of all stages, auxiliary FCN head (mmseg)",
        parameters: UperNetConfig.schema,
        exampleContext: { _ in
            BuildContext(
                inputs: [
                    FeatureSpec(stride: 4, channels: 16), FeatureSpec(stride: 8, channels: 32),
                    FeatureSpec(stride: 16, channels: 64), FeatureSpec(stride: 32, channels: 128),
                ], imageSize: 64, numClasses: 5)
        },
        validate: { params, context in
            _ = try UperNetConfig(params, context: context)
            return ComponentPlan()
        },
        build: { params, context in UperNetHead(try UperNetConfig(params, context: context), rng: context.rng) },
        probe: { module, _, context in
            let head = module as! UperNetHead
            var rng = RandomGenerator(seed: 0)
            let size = context.imageSize
            let features = context.inputs.map { spec in
                let side = max(size / spec.stride, 1)
                return FeatureMap(
                    tensor: Tensor.randomNormal([2, side * side, spec.channels], using: &rng), height: side,
                    width: side, stride: spec.stride)
            }
            // Labels: a class per quadrant, with an ignored border row.
            let values = (0..<(2 * size * size)).map { i -> Int in
                let (y, x) = ((i / size) % size, i % size)
                if y == 0 { return 255 }
                return ((y * 2 / size) * 2 + x * 2 / size + i / (size * size)) % head.classCount
            }
            let labels = SegmentationLabels(values: values, batch: 2, height: size, width: size)
            return head.loss(features, labels: labels).total
        })
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { $0.add(UperNetHead.descriptor) }
}
