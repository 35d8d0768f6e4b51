import Foundation
import MixmaeSupport

extension RunRegistry {
    /// Records the published checkpoint files (`last.safetensors`, `best.safetensors`,
    /// `epoch-NNNN.safetensors`) of run `id` that a complete manifest in its folder vouches
    /// for but the registry did not record yet: what a kill between publishing a checkpoint
    /// and recording it leaves. Returns the paths it recorded.
    ///
    /// A file is adopted only when its bytes are exactly those of a committed checkpoint of
    /// this run; a file with other bytes stays unrecorded (and is reported as modified
    /// outside mixmae when someone asks for it).
    ///
    /// ```swift
    /// let adopted = try registry.adoptCommittedCheckpoints(ofRun: 3)
    /// ```
    @discardableResult
    public func adoptCommittedCheckpoints(ofRun id: RunID, scan given: RunFolderScan? = nil) throws -> [String] {
        let scan = given ?? RunFolderScan(folder: outputDirectory(ofRun: id), run: id)
        var adopted: [String] = []
        // Oldest first, so the newest checkpoint is recorded last (the newest event wins).
        for manifest in scan.complete.reversed() {
            for (role, name) in manifest.published.sorted(by: { $0.key < $1.key }) {
                let url = scan.folder.appendingPathComponent(name)
                let path = url.standardizedFileURL.path
                guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                    (attributes[.size] as? NSNumber)?.int64Value == manifest.weights.size,
                    let digest = try? FileDigest.of(url).sha256, digest == manifest.weights.sha256
                else { continue }
                if let recorded = try artifactLastRecorded(atPath: path), recorded.sha256 == digest,
                    try hasProducedEvent(run: id, artifact: recorded.id, role: ArtifactRole(role))
                {
                    continue
                }
                _ = try recordProduced(
                    run: id, fileAt: url, kind: .checkpoint, role: ArtifactRole(role), step: Int64(manifest.step))
                adopted.append(path)
            }
        }
        return adopted
    }

    /// The newest step with a manifest in run `id`'s folder (by name, unverified).
    func newestCommittedStep(ofRun id: RunID) -> Int? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outputDirectory(ofRun: id).path)) ?? []
        return names.filter { $0.hasSuffix(".manifest.json") }.compactMap { CheckpointManifest.step(ofFileNamed: $0) }
            .max()
    }

    private func hasProducedEvent(run: RunID, artifact: ArtifactID, role: ArtifactRole) throws -> Bool {
        try database.queryFirst(
            "SELECT 1 FROM events WHERE run_id = ? AND artifact_id = ? AND role = ? AND direction = 'produced'",
            [run, artifact, role.rawValue], { $0.int64(0) }) != nil
    }
}
