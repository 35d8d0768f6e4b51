import Foundation
import MixKit

// A plugin with a correct stamp whose register function never returns (as a
// plugin waiting on a lock or a network share would): loading it in the host
// would hang every command. The plugin scanner must refuse it after its timeout.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    while true { sleep(3600) }
}
