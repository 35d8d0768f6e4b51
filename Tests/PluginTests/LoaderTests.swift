import Foundation
import Host
import MixKit
import Testing

@Suite struct LoaderProbe {
    @Test func ownCopy() {
        let dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
        for name in ["Good", "OwnSDK", "OtherMajor", "NewerMinor", "OtherCompiler", "RegisterFails", "DuplicateB", "NotAPlugin"] {
            let r = PluginLoader().load(dir + "/libTestPlugin\(name).so")
            switch r {
            case .success(let lib): print("OK", name, lib.components.map(\.id))
            case .failure(let f): print("REFUSED", name, f)
            }
        }
    }
}
