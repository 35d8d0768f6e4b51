import MixKit

// One of two test plugins that both register the id "toy-duplicate".

final class DuplicateA: Module {
    let fc: Linear

    init(rng: RandomSource) {
        fc = Linear(2, 2, rng: rng)
        super.init()
    }
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { r in
        r.add(
            ComponentDescriptor(
                id: "toy-duplicate", kind: .loss, version: "1.0.0", license: "MIT",
                summary: "Registered by TestPluginDuplicateA", parameters: [],
                build: { _, context in DuplicateA(rng: context.rng) },
                probe: { module, _, _ in (module as! DuplicateA).fc(Tensor.ones([1, 2])).mean() }))
    }
}
