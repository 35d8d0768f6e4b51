import Foundation
import MixmaeSupport

/// `runs/<id>/run.json`: what the registry knows of a run at its start, kept next to its
/// files so that `mixmae runs recover` can rebuild a lost or damaged registry from the run
/// folders (with the checkpoint manifests and the recipe).
///
/// ```swift
/// let record = try RunFolderRecord.read(in: registry.outputDirectory(ofRun: 3))
/// print(record?.task ?? "unknown", record?.used.count ?? 0)
/// ```
public struct RunFolderRecord: Codable, Equatable {
    /// A file the run used (its initial weights), by content.
    public struct Use: Codable, Equatable {
        public var role: String
        public var path: String
        public var sha256: String
        public var size: Int64
    }

    public var format = 1
    public var id: RunID
    public var task: String
    public var recipeText: String
    public var recipeSHA256: String
    public var seed: UInt64?
    public var parentRunID: RunID?
    public var startedAt: Date
    public var plugins: [PluginRecord]
    public var used: [Use] = []

    /// The file's name inside a run folder.
    public static let fileName = "run.json"

    /// Writes the record atomically into `folder`.
    public func write(in folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .secondsSince1970
        try DurableFile.write(try encoder.encode(self), to: folder.appendingPathComponent(Self.fileName).path)
    }

    /// The record in `folder`, or nil when there is none (a run of an older mixmae).
    public static func read(in folder: URL) throws -> RunFolderRecord? {
        let url = folder.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        do {
            return try decoder.decode(RunFolderRecord.self, from: Data(contentsOf: url))
        } catch {
            throw InputError(file: url.path, problem: "not a readable run record (\(error))")
        }
    }
}

extension RunRegistry {
    /// The ids of the run folders under `runs/` (numeric names), ascending.
    public func runFolderIDs() -> [RunID] { Self.runFolderIDs(in: runsDirectory) }
}
