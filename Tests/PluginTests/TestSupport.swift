import Foundation
import MixKit
import MixmaePluginHost
import TestSupport
import Testing

/// The suites that load plugins and build their modules in this process. They
/// run in parallel with each other and with every other suite: each model draws
/// from a generator of its own (there is no global one), so none disturbs another.
@Suite enum InProcess {}

/// Where SwiftPM put the test binary, `mixmae` and the test plugin libraries.
let buildDirectory = TestPaths.buildDirectory.path

/// The package root.
let packageRoot = TestPaths.packageRoot.path

/// The built test plugin `TestPlugin<name>`.
func fixture(_ name: String) -> String {
    buildDirectory + "/libTestPlugin\(name).so"
}

extension TemporaryFolder {
    /// A registry.yaml listing `libraries` (written as given) and its path.
    @discardableResult
    func registry(_ libraries: [String], name: String = "registry.yaml") throws -> String {
        try write(name, "plugins:\n" + libraries.map { "  - \($0)\n" }.joined())
    }
}

/// The catalog of a fresh registry.yaml in a temporary directory listing `libraries`.
func catalog(_ libraries: [String], in dir: TemporaryFolder) throws -> PluginCatalog {
    PluginCatalog(registry: try PluginRegistry.load(from: try dir.registry(libraries)))
}

/// The host's SDK version as messages print it ("1.1").
let hostSDK = "\(PluginABI.hostStamp().sdkMajor).\(PluginABI.hostStamp().sdkMinor)"
/// The version one minor above the host's.
let nextMinorSDK = "\(PluginABI.hostStamp().sdkMajor).\(PluginABI.hostStamp().sdkMinor + 1)"
/// The version the OtherMajor fixture writes: major + 1, minor 0.
let otherMajorSDK = "\(PluginABI.hostStamp().sdkMajor + 1).0"
