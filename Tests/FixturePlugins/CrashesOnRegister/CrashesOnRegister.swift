import MixKit

// A plugin with a correct stamp whose register function crashes (a trap from a
// failed precondition, as a plugin bug would): loading it in the host would
// kill the host. The plugin scanner must refuse it with the signal.

/// A lookup the plugin assumes cannot fail.
func requiredTable() -> [Int]? { nil }

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    let table = requiredTable()
    precondition(table != nil, "the toy plugin's table is missing")
    return Int32(table?.count ?? 0)
}
