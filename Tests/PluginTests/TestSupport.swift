import Foundation
import Host
import MixKit
import Testing

/// The suites that load plugins and build their modules in this process run one
/// test at a time: building draws from MixKit's global generator, which
/// `ComponentCheck` seeds, and concurrent draws would interleave.
@Suite(.serialized) enum InProcess {}

/// Where SwiftPM put the test binary, `mixmae` and the test plugin libraries.
let buildDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    .path

/// The package root (two levels above this file).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The built test plugin `TestPlugin<name>`.
func fixture(_ name: String) -> String {
    buildDirectory + "/libTestPlugin\(name).so"
}

/// A temporary directory, removed when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent("plugin-tests-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func read(_ name: String) throws -> String {
        try String(contentsOfFile: path + "/" + name, encoding: .utf8)
    }

    /// A registry.yaml listing `libraries` (written as given) and its path.
    @discardableResult
    func registry(_ libraries: [String], name: String = "registry.yaml") throws -> String {
        try write(name, "plugins:\n" + libraries.map { "  - \($0)\n" }.joined())
    }
}

/// The catalog of a fresh registry.yaml in a temporary directory listing `libraries`.
func catalog(_ libraries: [String], in dir: TemporaryDirectory) throws -> PluginCatalog {
    PluginCatalog(registry: try PluginRegistry.load(from: try dir.registry(libraries)))
}

/// Runs the built `mixmae` in a real process, in `directory`, with extra environment variables.
func mixmae(
    _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
) throws -> (status: Int32, stdout: String, stderr: String) {
    let executable = buildDirectory + "/mixmae"
    guard FileManager.default.isExecutableFile(atPath: executable) else {
        throw TestSetupError("no mixmae executable at \(executable); build it with `swift build -c release`")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read standard error on another thread so that neither pipe can fill up and block the child.
    let errorText = ErrorText()
    let reader = Thread { errorText.set(err.fileHandleForReading.readDataToEndOfFile()) }
    reader.start()
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, stdout, errorText.wait())
}

/// Standard error of a child process, filled by a reader thread.
final class ErrorText: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var text = ""

    func set(_ data: Data) {
        text = String(decoding: data, as: UTF8.self)
        done.signal()
    }

    func wait() -> String {
        done.wait()
        return text
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The host's SDK version as messages print it ("1.1").
let hostSDK = "\(PluginABI.hostStamp().sdkMajor).\(PluginABI.hostStamp().sdkMinor)"
/// The version one minor above the host's.
let nextMinorSDK = "\(PluginABI.hostStamp().sdkMajor).\(PluginABI.hostStamp().sdkMinor + 1)"
/// The minor the OtherMajor fixture writes next to major + 1.
let sdkMinorForOtherMajor = 0
