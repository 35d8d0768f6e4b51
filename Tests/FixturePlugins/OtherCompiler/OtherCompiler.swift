import MixKit

// Made that way on purpose: a plugin whose stamp claims Swift 5.9.0 built it.
// The host must refuse it without calling register.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginStamp(
        sdkMajor: PluginABI.sdkMajorAtBuild, sdkMinor: PluginABI.sdkMinorAtBuild, compiler: 50900,
        tensorMetadata: PluginABI.tensorMetadataAtBuild
    ).write(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    fatalError("TestPluginOtherCompiler: the host called register on a plugin it should have refused")
}
