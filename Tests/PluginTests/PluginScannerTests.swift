import Foundation
import MixKit
import MixmaePluginHost
import TestSupport
import Testing

/// The scanner executable the build puts next to the test binary and `mixmae`.
let scannerExecutable = buildDirectory + "/mixmae-plugin-scanner"

/// A copy of the real Swin plugin cut inside its last loaded page, as an
/// interrupted copy leaves it: the headers are whole, so `dlopen` maps the
/// file, and the first write to the missing page (relocations) is a SIGBUS.
/// `libMixKit.so` is linked next to it, where its run path looks.
func truncatedPlugin(in dir: TemporaryFolder) throws -> String {
    let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: buildDirectory + "/libMixSwin.so")))
    func integer(_ offset: Int, _ size: Int) -> Int {
        (0..<size).reduce(0) { $0 | Int(original[offset + $1]) << (8 * $1) }
    }
    let headers = integer(0x20, 8)
    let (entrySize, count) = (integer(0x36, 2), integer(0x38, 2))
    var end = 0
    for i in 0..<count where integer(headers + i * entrySize, 4) == 1 {  // PT_LOAD
        let entry = headers + i * entrySize
        end = max(end, integer(entry + 8, 8) + integer(entry + 32, 8))
    }
    let path = dir.file("libMixSwinTruncated.so")
    try Data(original.prefix(end & ~0xfff)).write(to: URL(fileURLWithPath: path))
    let kit = dir.file("libMixKit.so")
    if !FileManager.default.fileExists(atPath: kit) {
        try FileManager.default.createSymbolicLink(atPath: kit, withDestinationPath: buildDirectory + "/libMixKit.so")
    }
    return path
}

/// Plugin libraries that crash or hang when loaded: the scanner refuses them
/// in a separate process and the host goes on with the rest (issue 11, point 6).
@Suite struct PluginScannerTests {
    func scanner(_ dir: TemporaryFolder, timeout: Double = 1) -> PluginScanner {
        PluginScanner(executable: scannerExecutable, timeout: timeout, cache: PluginScanCache(home: dir.url))
    }

    @Test func brokenLibrariesAreRefusedWithTheSignalOrTimeoutAndTheRestLoads() throws {
        let dir = try TemporaryFolder()
        let truncated = try truncatedPlugin(in: dir)
        let libraries = [
            fixture("CrashesOnLoad"), truncated, fixture("Good"), fixture("CrashesOnRegister"),
            fixture("HangsOnRegister"),
        ]
        let start = Date()
        let catalog = PluginCatalog(
            registry: try PluginRegistry.load(from: try dir.registry(libraries)), scanner: scanner(dir))
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(catalog.components.map(\.id) == ["toy-backbone", "toy-broken-gradient", "toy-neck"])
        let reasons = catalog.refusals.map(\.reason)
        #expect(reasons.count == 4)
        #expect(catalog.refusals.map(\.library) == [libraries[0], libraries[1], libraries[3], libraries[4]])
        #expect(reasons[0] == .scanFailed(.crashed(signal: SIGSEGV), cached: false))
        #expect(reasons[1] == .scanFailed(.crashed(signal: SIGBUS), cached: false))
        guard case .scanFailed(.crashed(let trap), false) = reasons[2] else {
            Issue.record("CrashesOnRegister: \(reasons[2])")
            return
        }
        #expect(trap == SIGILL || trap == SIGTRAP)
        #expect(reasons[3] == .scanFailed(.hung(seconds: 1), cached: false))
        #expect(catalog.refusals[1].summary == "crashed with SIGBUS (signal 7) when loaded")
        #expect(catalog.refusals[3].summary == "hung when loaded (no answer in 1 s)")
        let message = catalog.refusals[1].description
        #expect(message.hasPrefix(truncated + " (listed at \(dir.path)/registry.yaml:3:5) crashed with SIGBUS"))
        #expect(message.contains("in the plugin scanner (a separate process), so the host did not load it"))
        #expect(catalog.refusals[3].description.contains("within 1 s (set MIXMAE_PLUGIN_SCAN_TIMEOUT to wait longer)"))
    }

    @Test func verdictsAreRememberedUntilTheFileChanges() throws {
        let dir = try TemporaryFolder()
        let truncated = try truncatedPlugin(in: dir)
        let good = dir.file("libGood.so")
        try FileManager.default.copyItem(atPath: fixture("Good"), toPath: good)
        let first = scanner(dir)
        let scanned = first.verdict(for: truncated)
        #expect(scanned.verdict == .crashed(signal: SIGBUS) && !scanned.cached)
        #expect(first.verdict(for: good).verdict == .loadable)
        first.saveCache()
        #expect(FileManager.default.fileExists(atPath: dir.file("plugin-scans.json")))

        let second = scanner(dir)
        let remembered = second.verdict(for: truncated)
        #expect(remembered.verdict == .crashed(signal: SIGBUS) && remembered.cached)
        let good2 = second.verdict(for: good)
        #expect(good2.verdict == .loadable && good2.cached)
        let catalog = PluginCatalog(
            registry: try PluginRegistry.load(from: try dir.registry([truncated, good])), scanner: second)
        #expect(catalog.refusals.first?.reason == .scanFailed(.crashed(signal: SIGBUS), cached: true))
        #expect(catalog.refusals.first?.description.contains("remembered from an earlier scan") == true)

        // Repaired in place (same path): scanned again and loaded.
        try FileManager.default.removeItem(atPath: truncated)
        try FileManager.default.copyItem(atPath: fixture("Good"), toPath: truncated)
        let third = scanner(dir)
        let repaired = third.verdict(for: truncated)
        #expect(repaired.verdict == .loadable && !repaired.cached)
    }

    @Test func aMissingComponentNamesTheLibrariesThatCouldNotBeScanned() throws {
        let dir = try TemporaryFolder()
        let truncated = try truncatedPlugin(in: dir)
        let catalog = PluginCatalog(
            registry: try PluginRegistry.load(from: try dir.registry([fixture("Good"), truncated])),
            scanner: scanner(dir))
        #expect(try catalog.component("toy-backbone", kind: .backbone).id == "toy-backbone")
        #expect(throws: (any Error).self) { try catalog.component("swin", kind: .backbone) }
        do {
            _ = try catalog.component("swin", kind: .backbone)
        } catch let error as UnknownComponentError {
            #expect(error.what.contains("no loaded plugin provides the backbone 'swin'"))
            #expect(
                error.what.contains(
                    "not loaded because they crash or hang when loaded, so their components are unknown: "
                        + "\(truncated) (crashed with SIGBUS (signal 7) when loaded)"), "\(error.what)")
        }
    }
}

/// `mixmae plugins list` and `recipe check` with libraries that crash or hang when loaded.
@Suite struct PluginScannerCommandTests {
    @Test func listShowsCrashingAndHangingLibrariesAsRefusedAndGoesOn() throws {
        let dir = try TemporaryFolder()
        let truncated = try truncatedPlugin(in: dir)
        let file = try dir.registry([fixture("Good"), truncated, fixture("CrashesOnLoad"), fixture("HangsOnRegister")])
        let environment = ["MIXMAE_HOME": dir.file("home"), "MIXMAE_PLUGIN_SCAN_TIMEOUT": "1"]
        let first = try runMixmae(["plugins", "list", "--registry", file], environment: environment, timeout: 60)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!first.signalled)
        let lines = first.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("toy-backbone ") && $0.hasSuffix("loaded") })
        #expect(
            lines.contains {
                $0.contains("libMixSwinTruncated.so")
                    && $0.hasSuffix("refused: crashed with SIGBUS (signal 7) when loaded")
            })
        #expect(
            lines.contains {
                $0.contains("libTestPluginCrashesOnLoad.so")
                    && $0.hasSuffix("refused: crashed with SIGSEGV (signal 11) when loaded")
            })
        #expect(
            lines.contains {
                $0.contains("libTestPluginHangsOnRegister.so")
                    && $0.hasSuffix("refused: hung when loaded (no answer in 1 s)")
            })
        #expect(first.stdout.contains("3 components from 1 library; 3 refused"), "\(first.stdout)")
        #expect(FileManager.default.fileExists(atPath: dir.file("home/plugin-scans.json")))

        // Remembered: the second listing does not wait for the hanging library again.
        let start = Date()
        let second = try runMixmae(["plugins", "list", "--registry", file], environment: environment, timeout: 60)
        #expect(Date().timeIntervalSince(start) < 1.0)
        #expect(second.status == 0)
        #expect(second.stdout.contains("remembered from an earlier scan"), "\(second.stdout)")
        #expect(second.stdout.contains("3 components from 1 library; 3 refused"))
    }

    @Test func aRecipeNeedingABrokenPluginNamesItAndOthersStillWork() throws {
        let dir = try TemporaryFolder()
        let truncated = try truncatedPlugin(in: dir)
        let file = try dir.registry([fixture("Good"), truncated])
        let environment = ["MIXMAE_HOME": dir.file("home"), "MIXMAE_REGISTRY": file]
        let needsSwin = try dir.write(
            "swin.yaml", "task: pretrain\ndata: {root: x}\nmodel:\n  backbone: {name: swin}\n")
        let check = try runMixmae(["recipe", "check", needsSwin], environment: environment, timeout: 60)
        #expect(check.status == 1)
        let output = check.stdout + check.stderr
        #expect(output.contains("model.backbone.name: unknown backbone 'swin'"), "\(output)")
        #expect(
            output.contains(
                "not loaded because they crash or hang when loaded, so their components are unknown: \(truncated)"),
            "\(output)")
        let toy = try dir.write(
            "toy.yaml", "task: pretrain\ndata: {root: x}\nmodel:\n  backbone: {name: toy-backbone}\n")
        let fine = try runMixmae(["recipe", "check", toy], environment: environment, timeout: 60)
        #expect(!(fine.stdout + fine.stderr).contains("swin"), "\(fine.stdout)\(fine.stderr)")
        #expect(!fine.signalled)
    }
}
