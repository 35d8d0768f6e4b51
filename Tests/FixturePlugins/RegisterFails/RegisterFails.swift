import MixKit

// A plugin with a correct stamp whose registration throws, as a plugin would
// when something it needs at load time is missing.

struct MissingResource: Error, CustomStringConvertible {
    var description: String { "the lookup table toy.bin is missing next to the library" }
}

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { _ in throw MissingResource() }
}
