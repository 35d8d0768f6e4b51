import MixKit
import MixRPNModel

extension RPNHead {
    static let descriptor = ComponentDescriptor(
        id: "rpn", kind: .rpn, version: "1.0.0", license: "Apache-2.0",
        summary: "Region proposal network (mmdet RPNHead): anchors of 3 ratios per level, BCE + L1, NMS proposals",
        parameters: RPNConfig.schema,
        exampleContext: { _ in
            BuildContext(inputs: [4, 8, 16, 32, 64].map { FeatureSpec(stride: $0, channels: 16) }, imageSize: 128)
        },
        validate: { params, context in
            ComponentPlan(parameterCount: try RPNConfig(params, context: context).parameterCount)
        },
        build: { params, context in RPNHead(try RPNConfig(params, context: context), rng: context.rng) },
        probe: { module, _, context in
            let head = module as! RPNHead
            let (features, targets, shapes) = RPNProbe.inputs(context)
            // The same anchors sampled at every evaluation, so that the loss is a function.
            _ = head.rng.restore(RandomSource(seed: 0).state)
            return head.loss(features, targets: targets, images: shapes).loss.total
        })
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { $0.add(RPNHead.descriptor) }
}
