import Foundation
import MixmaeSupport

extension RunRegistry {
    /// Files that interrupted writes left in the run folders of runs that are not running:
    /// temporary files (`*.tmp-PID`) of processes that are gone, and step files
    /// (`step-*.safetensors`) of checkpoints that were never committed (no manifest).
    /// `runs gc --delete` removes them.
    ///
    /// ```swift
    /// for path in try registry.leftoverFiles() { print(path) }
    /// ```
    public func leftoverFiles() throws -> [String] {
        try markVanishedRuns()
        let running = Set(try database.query("SELECT id FROM runs WHERE status = 'RUNNING'") { $0.int64(0) })
        var found: [String] = []
        let homeNames = (try? FileManager.default.contentsOfDirectory(atPath: home.path)) ?? []
        found += homeNames.filter(DurableFile.isAbandonedTemporary).map { home.appendingPathComponent($0).path }
        for id in runFolderIDs() where !running.contains(id) {
            let folder = outputDirectory(ofRun: id)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            let committed = Set(
                names.filter { $0.hasSuffix(".manifest.json") }.compactMap { CheckpointManifest.step(ofFileNamed: $0) })
            for name in names.sorted() {
                let uncommitted = CheckpointManifest.step(ofFileNamed: name).map { !committed.contains($0) } ?? false
                if uncommitted || DurableFile.isAbandonedTemporary(name) {
                    found.append(folder.appendingPathComponent(name).path)
                }
            }
        }
        return found
    }

    /// Removes ``leftoverFiles()`` and returns what was removed.
    @discardableResult
    public func removeLeftoverFiles() throws -> [String] {
        try leftoverFiles().filter { unlink($0) == 0 }
    }
}
