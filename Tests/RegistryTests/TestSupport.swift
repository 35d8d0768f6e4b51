import Foundation
import MixmaeRuns
import TestSupport
import Testing

/// A fresh temporary folder, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init(_ name: String = "registry") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("mixmae-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// Options for deterministic tests: no background heartbeat.
func quietOptions() -> RunRegistry.Options {
    var options = RunRegistry.Options()
    options.heartbeatInterval = 0
    return options
}

/// Writes `text` (plus a unique salt) to `url` and returns the URL.
@discardableResult
func writeCheckpoint(_ url: URL, _ text: String) throws -> URL {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data("fake weights: \(text)\n".utf8).write(to: url)
    return url
}

/// An environment for a child process that points it at `home`.
func childEnvironment(home: URL) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    environment["MIXMAE_HOME"] = home.path
    return environment
}

/// Runs the built `mixmae` against the registry in `home`.
func mixmae(_ arguments: [String], home: URL) throws -> ProcessResult {
    try runMixmae(arguments, environment: ["MIXMAE_HOME": home.path])
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
func waitUntil(timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// Waits for `process` to exit; after `timeout` seconds it is killed and the test fails
/// instead of hanging.
func waitForExit(_ process: Process, timeout: TimeInterval) -> Bool {
    let exited = waitUntil(timeout: timeout) { !process.isRunning }
    if !exited {
        Issue.record("process \(process.processIdentifier) did not exit within \(timeout) s; killing it")
        kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    return exited
}
