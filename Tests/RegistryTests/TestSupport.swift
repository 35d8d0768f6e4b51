import Foundation
import MixmaeRuns
import TestSupport

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

/// Runs the built `mixmae` against the registry in `home`.
func mixmae(_ arguments: [String], home: URL) throws -> ProcessResult {
    try runMixmae(arguments, environment: ["MIXMAE_HOME": home.path])
}
