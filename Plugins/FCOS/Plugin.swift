import MixKit

extension FCOSHead {
    static let descriptor = ComponentDescriptor(
        id: "fcos", kind: .head, version: "1.0.0", license: "Apache-2.0",
        summary: "FCOS one-stage detector head: focal, GIoU and centre-ness losses; per-class NMS at inference",
        parameters: FCOSConfig.schema,
        exampleContext: { _ in
            BuildContext(
                inputs: [8, 16, 32, 64, 128].map { FeatureSpec(stride: $0, channels: 32) }, imageSize: 128,
                numClasses: 3)
        },
        validate: { params, context in
            _ = try FCOSConfig(params, context: context)
            return ComponentPlan()
        },
        build: { params, context in FCOSHead(try FCOSConfig(params, context: context), rng: context.rng) },
        probe: { module, _, context in
            let head = module as! FCOSHead
            var rng = RandomGenerator(seed: 0)
            let features = context.inputs.map { spec in
                let side = max(context.imageSize / spec.stride, 1)
                return FeatureMap(
                    tensor: Tensor.randomNormal([2, side * side, spec.channels], using: &rng), height: side,
                    width: side, stride: spec.stride)
            }
            let scale = Float(context.imageSize) / 128
            func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
                BoundingBox(x1: x1 * scale, y1: y1 * scale, x2: x2 * scale, y2: y2 * scale)
            }
            let classes = head.classCount
            let targets = [
                DetectionTarget(boxes: [box(10, 12, 50, 60), box(60, 30, 124, 110)], labels: [0, 1 % classes]),
                DetectionTarget(boxes: [box(5, 5, 40, 30)], labels: [2 % classes]),
            ]
            return head.loss(features, targets: targets).total
        })
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { $0.add(FCOSHead.descriptor) }
}
