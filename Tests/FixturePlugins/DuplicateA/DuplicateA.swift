import MixKit

// One of two test plugins that both register the id "toy-duplicate".

final class DuplicateA: Module {
    let fc = Linear(2, 2)
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
                build: { _, _ in DuplicateA() },
                probe: { module, _, _ in (module as! DuplicateA).fc(Tensor.ones([1, 2])).mean() }))
    }
}
