import Foundation
import MixmaeSupport

/// A checkpoint file that `mixmae runs gc` may delete: produced only by runs that ended
/// FAILED, KILLED or CRASHED, used by no other run, and still on disk at one or more of its
/// recorded paths.
public struct GarbageCandidate: Codable, Equatable {
    /// One place the artifact's bytes were recorded.
    public struct File: Codable, Equatable {
        public let path: String
        /// `present` when the registry knows no later file there and a file exists (its
        /// content is hashed again before deleting).
        public let state: ArtifactFileState
    }
    public let artifact: Artifact
    /// The unsuccessful runs that produced it.
    public let producers: [RunID]
    /// The roles it was produced in (`checkpoint.last`, ...).
    public let roles: [ArtifactRole]
    /// Every recorded location.
    public let files: [File]
}

/// What `runs gc --delete` did with one file.
public struct GarbageDeletion: Codable, Equatable {
    public enum Outcome: String, Codable {
        /// The file held the artifact's bytes and was deleted.
        case deleted
        /// No file was there.
        case missing
        /// The file holds other bytes now (it was overwritten) and was kept.
        case keptChanged = "kept-changed"
        /// A run started using the artifact meanwhile, so nothing was deleted.
        case keptInUse = "kept-in-use"
    }
    public let artifact: Artifact
    public let path: String
    public let outcome: Outcome
}

extension RunRegistry {
    /// Artifacts of kind checkpoint or optimizer state whose every producer ended FAILED,
    /// KILLED or CRASHED, that no other run used (nothing descends from them), and whose
    /// bytes are still at one of their recorded paths.
    public func garbageCandidates() throws -> [GarbageCandidate] {
        try markVanishedRuns()
        let artifacts = try database.query(
            """
            SELECT \(Self.artifactColumns("a")) FROM artifacts a
            WHERE a.kind IN ('checkpoint', 'optimizer-state') AND a.removed_at IS NULL
                AND EXISTS (SELECT 1 FROM events p WHERE p.artifact_id = a.id AND p.direction = 'produced')
                AND NOT EXISTS (
                    SELECT 1 FROM events q JOIN runs r ON r.id = q.run_id
                    WHERE q.artifact_id = a.id AND q.direction = 'produced'
                        AND r.status NOT IN ('FAILED', 'KILLED', 'CRASHED'))
                AND \(Self.hasNoDescendants("a"))
            ORDER BY a.id
            """, [], Self.artifactRecord)
        return try artifacts.compactMap { artifact in
            let produced = try database.query(
                "SELECT run_id, role, path FROM events WHERE artifact_id = ? AND direction = 'produced'",
                [artifact.id]
            ) { (run: $0.int64(0), role: $0.text(1), path: $0.text(2)) }
            let paths = Set(produced.map(\.path) + [artifact.path]).sorted()
            let files = try paths.map {
                GarbageCandidate.File(path: $0, state: try fileState(of: artifact, at: $0))
            }.filter { $0.state == .present }
            // Bytes since overwritten (an old last.safetensors) have nothing left to delete.
            guard !files.isEmpty else { return nil }
            return GarbageCandidate(
                artifact: artifact,
                producers: Set(produced.map(\.run)).sorted(),
                roles: Set(produced.map(\.role)).sorted().map { ArtifactRole($0) },
                files: files)
        }
    }

    /// Deletes the files of ``garbageCandidates()``. A file is deleted only if it still holds
    /// the artifact's bytes (a path since overwritten by another checkpoint is kept), and an
    /// artifact that gained a user since the listing is kept whole. Deleted artifacts stay
    /// in the registry, marked removed, so lineage still shows them.
    public func collectGarbage() throws -> [GarbageDeletion] {
        var results: [GarbageDeletion] = []
        for candidate in try garbageCandidates() {
            var matching: [String] = []
            for file in candidate.files {
                guard FileManager.default.fileExists(atPath: file.path) else {
                    results.append(GarbageDeletion(artifact: candidate.artifact, path: file.path, outcome: .missing))
                    continue
                }
                let (digest, _) = try FileDigest.of(URL(fileURLWithPath: file.path))
                if digest == candidate.artifact.sha256 {
                    matching.append(file.path)
                } else {
                    results.append(
                        GarbageDeletion(artifact: candidate.artifact, path: file.path, outcome: .keptChanged))
                }
            }
            // Claim the artifact for deletion only if it still has no descendants.
            let claimed: Bool = try database.writeTransaction {
                try database.run(
                    """
                    UPDATE artifacts SET removed_at = ?
                    WHERE id = ? AND removed_at IS NULL AND \(Self.hasNoDescendants("artifacts"))
                    """, [Date(), candidate.artifact.id])
                return database.changes == 1
            }
            for path in matching {
                guard claimed else {
                    results.append(GarbageDeletion(artifact: candidate.artifact, path: path, outcome: .keptInUse))
                    continue
                }
                do {
                    try FileManager.default.removeItem(atPath: path)
                    results.append(GarbageDeletion(artifact: candidate.artifact, path: path, outcome: .deleted))
                } catch {
                    throw GarbageCollectionError(path: path, reason: error.localizedDescription)
                }
            }
        }
        return results
    }

    /// SQL: no run other than a producer of the artifact used it.
    static func hasNoDescendants(_ artifact: String) -> String {
        """
        NOT EXISTS (
            SELECT 1 FROM events u WHERE u.artifact_id = \(artifact).id AND u.direction = 'used'
                AND u.run_id NOT IN (
                    SELECT pr.run_id FROM events pr
                    WHERE pr.artifact_id = \(artifact).id AND pr.direction = 'produced'))
        """
    }
}

/// A garbage file could not be deleted.
public struct GarbageCollectionError: UserFacingError {
    public let path: String
    public let reason: String
    public var what: String { "cannot delete \(path): \(reason)" }
    public var hint: String? { "the registry marks it removed, so delete it by hand" }
}
