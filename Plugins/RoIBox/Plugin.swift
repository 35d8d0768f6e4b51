import MixKit
import MixRoIBoxModel

extension SharedFCBoxHead {
    static let descriptor = ComponentDescriptor(
        id: "roi-box", kind: .roiHead, version: "1.0.0", license: "Apache-2.0",
        summary: "RoI box head (mmdet Shared2FCBBoxHead): RoIAlign 7x7 by level, 2 FC 1024, softmax CE + L1",
        parameters: RoIBoxConfig.schema,
        exampleContext: { _ in
            BuildContext(
                inputs: [4, 8, 16, 32, 64].map { FeatureSpec(stride: $0, channels: 8) }, imageSize: 128, numClasses: 3)
        },
        validate: { params, context in
            ComponentPlan(parameterCount: try RoIBoxConfig(params, context: context).parameterCount)
        },
        build: { params, context in SharedFCBoxHead(try RoIBoxConfig(params, context: context), rng: context.rng) },
        probe: { module, _, context in
            let head = module as! SharedFCBoxHead
            let (features, proposals, targets) = RoIProbe.inputs(context)
            // The same RoIs sampled at every evaluation, so that the loss is a function.
            _ = head.rng.restore(RandomSource(seed: 0).state)
            return head.loss(features, proposals: proposals, targets: targets).loss.total
        })
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { $0.add(SharedFCBoxHead.descriptor) }
}
