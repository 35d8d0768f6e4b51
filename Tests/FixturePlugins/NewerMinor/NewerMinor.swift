import MixKit

// Made that way on purpose: a plugin whose stamp claims a newer SDK minor
// version than the host's. The host must refuse it without calling register.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginStamp(
        sdkMajor: PluginABI.sdkMajorAtBuild, sdkMinor: PluginABI.sdkMinorAtBuild + 1,
        compiler: PluginABI.compilerAtBuild, tensorMetadata: PluginABI.tensorMetadataAtBuild
    ).write(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    fatalError("TestPluginNewerMinor: the host called register on a plugin it should have refused")
}
