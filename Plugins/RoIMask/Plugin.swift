import MixKit
import MixRoIMaskModel

extension FCNMaskHead {
    static let descriptor = ComponentDescriptor(
        id: "roi-mask", kind: .roiHead, version: "1.0.0", license: "Apache-2.0",
        summary: "RoI mask head (mmdet FCNMaskHead): RoIAlign 14x14, 4 convs, deconv, 28x28 class masks, BCE",
        parameters: RoIMaskConfig.schema,
        exampleContext: { _ in
            BuildContext(
                inputs: [4, 8, 16, 32, 64].map { FeatureSpec(stride: $0, channels: 8) }, imageSize: 128, numClasses: 3)
        },
        validate: { params, context in
            ComponentPlan(parameterCount: try RoIMaskConfig(params, context: context).parameterCount)
        },
        build: { params, context in FCNMaskHead(try RoIMaskConfig(params, context: context), rng: context.rng) },
        probe: { module, _, context in
            let head = module as! FCNMaskHead
            let (features, samples, masks) = MaskProbe.inputs(context)
            return head.loss(features, samples: samples, masks: masks).total
        })
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { $0.add(FCNMaskHead.descriptor) }
}
