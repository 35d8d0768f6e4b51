import MixKit

// Made that way on purpose: a plugin whose stamp claims the next SDK major
// version. The host must refuse it without calling its register function.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginStamp(
        sdkMajor: PluginABI.sdkMajorAtBuild + 1, sdkMinor: 0, compiler: PluginABI.compilerAtBuild,
        tensorMetadata: PluginABI.tensorMetadataAtBuild
    ).write(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    fatalError("TestPluginOtherMajor: the host called register on a plugin it should have refused")
}
