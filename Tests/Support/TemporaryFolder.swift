import Foundation

/// A fresh folder for one test, removed when the test process exits (every folder lives
/// under one scratch folder of the process, so nothing depends on when a value is released).
///
/// ```swift
/// let folder = try TemporaryFolder("recipes")
/// let recipe = try folder.write("a.yaml", "task: pretrain\n")   // returns the file's path
/// let database = folder.fileURL("registry.sqlite")
/// ```
public struct TemporaryFolder: Sendable {
    /// The folder.
    public let url: URL

    /// Creates the folder; `label` starts its name, to tell tests apart in a listing.
    public init(_ label: String = "test") throws {
        url = TemporaryFolder.scratch.appendingPathComponent(
            "\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The folder's path.
    public var path: String { url.path }

    /// The path of `name` (which may contain folders) inside the folder.
    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// The URL of `name` inside the folder.
    public func fileURL(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `text` to `name` (creating folders) and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let target = fileURL(name)
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: target, atomically: true, encoding: .utf8)
        return target.path
    }

    /// The text of `name`.
    public func read(_ name: String) throws -> String {
        try String(contentsOf: fileURL(name), encoding: .utf8)
    }

    /// The scratch folder of this test process, removed when the process exits.
    private static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mixmae-tests-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TemporaryFolder.scratch) }
        return url
    }()
}
