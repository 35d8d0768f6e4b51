import Foundation

/// Paths the test suites share.
public enum TestPaths {
    /// The package root.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The read-only inputs (fixtures, bench configs): $MIXMAE_SHARED, else
    /// `<package root>/../shared`, else /work/shared.
    public static var shared: URL {
        if let path = ProcessInfo.processInfo.environment["MIXMAE_SHARED"] { return URL(fileURLWithPath: path) }
        let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
        if FileManager.default.fileExists(atPath: sibling.path) { return sibling }
        return URL(fileURLWithPath: "/work/shared")
    }

    /// Where SwiftPM put the test bundle, `mixmae` and the plugin libraries.
    public static let buildDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent()

    /// The built `mixmae`: $MIXMAE_BIN, else next to the test bundle.
    public static var mixmae: String {
        ProcessInfo.processInfo.environment["MIXMAE_BIN"] ?? buildDirectory.appendingPathComponent("mixmae").path
    }
}

/// A temporary folder, removed when released.
public final class TemporaryFolder {
    public let path: String

    public init(_ label: String = "mixmae-test") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` (creating folders) and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }
}

/// A fresh directory for one test, under a scratch folder of this test process
/// that is removed when the process exits.
public func temporaryDirectory(_ label: String = "test") throws -> URL {
    let url = TestScratch.root.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The per-process scratch folder behind ``temporaryDirectory(_:)``.
enum TestScratch {
    static let root: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mixmae-tests-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestScratch.root) }
        return url
    }()
}

/// A test's own set-up went wrong (a missing executable, an unexpected file layout).
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The error `body` throws, or nil.
public func thrownError(_ body: () throws -> Void) -> Error? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// What a finished child process printed.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs the built `mixmae` in a real process and waits for it.
public func runMixmae(
    _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
) throws -> ProcessResult {
    guard FileManager.default.isExecutableFile(atPath: TestPaths.mixmae) else {
        throw TestSetupError(
            "no mixmae executable at \(TestPaths.mixmae); build it with `swift build -c release` or set MIXMAE_BIN")
    }
    return try runProgram(TestPaths.mixmae, arguments, in: directory, environment: environment)
}

/// Runs a program in a real process and waits for it; both pipes are drained
/// concurrently so a chatty child never blocks. `environment` is added to this
/// process's environment.
public func runProgram(
    _ path: String, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let group = DispatchGroup()
    nonisolated(unsafe) var errorData = Data()
    group.enter()
    Thread {
        errorData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }.start()
    let outputData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self),
        stderr: String(decoding: errorData, as: UTF8.self))
}
