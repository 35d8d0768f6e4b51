import MixKit

// Made that way on purpose: this plugin links the SDK statically (the
// `MixKitStatic` product), so it carries its own copy of MixKit's type
// metadata. Its stamp is written the normal way; the Tensor metadata address
// in it points into this library, not into the host's libMixKit.so.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    fatalError("TestPluginOwnSDK: the host called register on a plugin it should have refused")
}
