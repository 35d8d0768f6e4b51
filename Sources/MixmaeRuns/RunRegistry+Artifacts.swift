import Foundation
import MixmaeSupport

/// An event together with its artifact, as `runs show` lists them.
public struct RecordedArtifact: Codable, Equatable {
    public let event: ArtifactEvent
    public let artifact: Artifact
    /// Where the artifact's bytes stand now at the event's path (`moved` when they left it
    /// for the artifact's last known path).
    public let fileState: ArtifactFileState
}

extension RunRegistry {
    // MARK: Recording

    func recordProduced(
        run id: RunID, fileAt url: URL, kind: ArtifactKind, role: ArtifactRole, step: Int64?
    ) throws -> Artifact {
        let path = url.standardizedFileURL.path
        let (digest, size) = try FileDigest.of(url)
        return try database.writeTransaction {
            let artifact = try upsertArtifact(
                sha256: digest, size: size, path: path, kind: kind, producer: id)
            try insertEvent(
                run: id, artifact: artifact.id, direction: .produced, role: role, path: path, step: step)
            return artifact
        }
    }

    func recordUsed(run id: RunID, artifact: Artifact, role: ArtifactRole, path: String) throws {
        try database.writeTransaction {
            try insertEvent(
                run: id, artifact: artifact.id, direction: .used, role: role, path: path, step: nil)
        }
        // The run folder keeps the lineage too, for `runs recover`.
        let folder = outputDirectory(ofRun: id)
        if var record = try? RunFolderRecord.read(in: folder) {
            let use = RunFolderRecord.Use(role: role.rawValue, path: path, sha256: artifact.sha256, size: artifact.size)
            if !record.used.contains(use) {
                record.used.append(use)
                try record.write(in: folder)
            }
        }
    }

    /// The artifact for the file at `url`, registering it as a new artifact of `kind` when
    /// its content is unknown. A known file found at a new place (moved or copied) is
    /// matched by content and its known location updated.
    ///
    /// Throws ``RegistryError/artifactModified(path:expected:actualSHA256:actualArtifact:)``
    /// when the registry recorded other content at this path: the file changed since.
    ///
    /// ```swift
    /// let imagenet = try registry.registerFile(at: indexURL, kind: .dataset)
    /// try run.recordUsed(imagenet, role: .trainData)
    /// ```
    public func registerFile(at url: URL, kind: ArtifactKind = .external) throws -> Artifact {
        let path = url.standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw RegistryError.fileNotFound(path: path, reference: url.path)
        }
        let (digest, size) = try FileDigest.of(url)
        let sha = digest
        return try database.writeTransaction {
            if let known = try artifact(sha256: sha) {
                if known.path != path || known.removedAt != nil {
                    try database.run(
                        "UPDATE artifacts SET path = ?, seen_at = ?, removed_at = NULL WHERE id = ?",
                        [path, Date(), known.id])
                    return try artifact(id: known.id) ?? known
                }
                return known
            }
            if let recorded = try artifactLastRecorded(atPath: path) {
                throw RegistryError.artifactModified(
                    path: path, expected: recorded, actualSHA256: sha, actualArtifact: nil)
            }
            return try upsertArtifact(sha256: sha, size: size, path: path, kind: kind, producer: nil)
        }
    }

    /// The known artifact whose content is the file at `url`, or nil when the registry has
    /// never seen these bytes. Registers no new artifact; a known one found at a new place
    /// gets that place as its known location.
    ///
    /// Throws ``RegistryError/artifactModified(path:expected:actualSHA256:actualArtifact:)``
    /// when the registry recorded other content at this path. This is the check to run
    /// before loading a checkpoint named by path.
    public func knownArtifact(forFileAt url: URL) throws -> Artifact? {
        let path = url.standardizedFileURL.path
        let (digest, _) = try FileDigest.of(url)
        if let known = try artifact(sha256: digest) {
            guard known.path != path else { return known }
            try database.writeTransaction {
                try database.run(
                    "UPDATE artifacts SET path = ?, seen_at = ? WHERE id = ?", [path, Date(), known.id])
            }
            return try artifact(id: known.id) ?? known
        }
        if let recorded = try artifactLastRecorded(atPath: path) {
            throw RegistryError.artifactModified(
                path: path, expected: recorded, actualSHA256: digest, actualArtifact: nil)
        }
        return nil
    }

    // MARK: Resolving and verifying

    /// Resolves a weights reference to a file whose content matches the registry.
    ///
    /// - `run:ID` / `run:ID:best`: the run's latest `checkpoint.last` (falling back to its
    ///   latest produced checkpoint of any role) / latest `checkpoint.best`.
    /// - `sha256:PREFIX`: the one artifact with that prefix; an ambiguous prefix is an error
    ///   that lists the matches.
    /// - a path: matched by content; an unknown file is registered as an external artifact.
    ///
    /// The file is hashed: a missing file or one whose bytes changed since it was recorded
    /// is an error that says which, and what to do.
    public func resolveWeights(_ reference: WeightsReference) throws -> ResolvedWeights {
        switch reference {
        case .run(let id, let choice):
            let resolved = try checkpoint(ofRun: id, role: choice.role)
            return ResolvedWeights(reference: reference, artifact: resolved.artifact, url: resolved.url)
        case .sha256Prefix(let prefix):
            let artifact = try uniqueArtifact(prefix: prefix)
            let url = try verify(artifact)
            return ResolvedWeights(reference: reference, artifact: try refreshed(artifact), url: url)
        case .file(let url):
            let artifact = try registerFile(at: url)
            return ResolvedWeights(reference: reference, artifact: artifact, url: url.standardizedFileURL)
        }
    }

    /// Run `id`'s latest checkpoint produced in `role`, verified on disk. For
    /// `checkpoint.last`, a run that recorded none falls back to its latest produced
    /// checkpoint of any role. This is also what `--resume` loads.
    ///
    /// A checkpoint that a kill left published but unrecorded (its manifest in the run folder
    /// vouches for its bytes) is recorded first, and then found.
    public func checkpoint(ofRun id: RunID, role: ArtifactRole) throws -> ResolvedWeights {
        var chosen: RecordedArtifact
        let url: URL
        do {
            chosen = try recordedCheckpoint(ofRun: id, role: role)
            // A newer commit in the run folder than the recorded checkpoint: record it first.
            if let step = chosen.event.step, let committed = newestCommittedStep(ofRun: id), committed > step,
                try !adoptCommittedCheckpoints(ofRun: id).isEmpty
            {
                chosen = try recordedCheckpoint(ofRun: id, role: role)
            }
            url = try verify(chosen.artifact, preferredPath: chosen.event.path)
        } catch let error as RegistryError {
            guard try !adoptCommittedCheckpoints(ofRun: id).isEmpty else { throw error }
            chosen = try recordedCheckpoint(ofRun: id, role: role)
            url = try verify(chosen.artifact, preferredPath: chosen.event.path)
        }
        let reference = WeightsReference.run(id, role == .checkpointBest ? .best : .last)
        return ResolvedWeights(reference: reference, artifact: try refreshed(chosen.artifact), url: url)
    }

    /// Run `id`'s latest checkpoint produced in `role` as recorded, without
    /// looking at the file (``checkpoint(ofRun:role:)`` verifies it).
    public func recordedCheckpoint(ofRun id: RunID, role: ArtifactRole) throws -> RecordedArtifact {
        let run = try requireRun(id)
        let events = try recordedArtifacts(ofRun: id).filter { $0.event.direction == .produced }
        let newestFirst = events.sorted {
            ($0.event.time, $0.event.artifactID) > ($1.event.time, $1.event.artifactID)
        }
        var chosen = newestFirst.first { $0.event.role == role }
        if chosen == nil && role == .checkpointLast {
            chosen = newestFirst.first { $0.artifact.kind == .checkpoint }
        }
        guard let chosen else {
            let produced = newestFirst.map { "\($0.event.role) \($0.artifact.shortHash)" }
            throw RegistryError.noCheckpoint(run: id, status: run.status, role: role, produced: produced)
        }
        return chosen
    }

    /// Checks that the artifact's bytes are on disk and returns where: first at
    /// `preferredPath` (e.g. where a run wrote it), then at its last known location.
    ///
    /// Throws ``RegistryError/artifactMissing(artifact:path:)`` when no file is there and
    /// ``RegistryError/artifactModified(path:expected:actualSHA256:actualArtifact:)`` when a
    /// file is there with other bytes.
    public func verify(_ artifact: Artifact, preferredPath: String? = nil) throws -> URL {
        var candidates: [String] = []
        for path in [preferredPath, artifact.path].compactMap({ $0 }) where !candidates.contains(path) {
            candidates.append(path)
        }
        var mismatch: (path: String, sha: String)?
        for path in candidates where FileManager.default.fileExists(atPath: path) {
            let (digest, _) = try FileDigest.of(URL(fileURLWithPath: path))
            if digest == artifact.sha256 {
                if path != artifact.path {
                    try database.writeTransaction {
                        try database.run(
                            "UPDATE artifacts SET path = ?, seen_at = ? WHERE id = ?", [path, Date(), artifact.id])
                    }
                }
                return URL(fileURLWithPath: path)
            }
            if mismatch == nil { mismatch = (path, digest) }
        }
        if let mismatch {
            throw RegistryError.artifactModified(
                path: mismatch.path, expected: artifact, actualSHA256: mismatch.sha,
                actualArtifact: try self.artifact(sha256: mismatch.sha))
        }
        throw RegistryError.artifactMissing(artifact: artifact, path: candidates[0])
    }

    // MARK: Looking up artifacts

    /// The artifact with row id `id`.
    public func artifact(id: ArtifactID) throws -> Artifact? {
        try database.queryFirst(
            "SELECT \(Self.artifactColumns) FROM artifacts WHERE id = ?", [id], Self.artifactRecord)
    }

    /// The artifact with exactly this SHA-256 (lowercase hex).
    public func artifact(sha256: String) throws -> Artifact? {
        try database.queryFirst(
            "SELECT \(Self.artifactColumns) FROM artifacts WHERE sha256 = ?", [sha256.lowercased()],
            Self.artifactRecord)
    }

    /// Every artifact whose hash starts with `prefix`.
    public func artifacts(withPrefix prefix: String) throws -> [Artifact] {
        let lower = prefix.lowercased()
        // Hex digits sort below "g", so [prefix, prefix + "g") is the prefix range (indexed).
        return try database.query(
            """
            SELECT \(Self.artifactColumns) FROM artifacts WHERE sha256 >= ? AND sha256 < ?
            ORDER BY sha256
            """, [lower, lower + "g"], Self.artifactRecord)
    }

    /// The one artifact whose hash starts with `prefix`; none or several is an error (the
    /// error lists the matches).
    public func uniqueArtifact(prefix: String) throws -> Artifact {
        let matches = try artifacts(withPrefix: prefix)
        guard let first = matches.first else { throw RegistryError.noArtifactWithPrefix(prefix) }
        guard matches.count == 1 else { throw RegistryError.ambiguousPrefix(prefix, matches: matches) }
        return first
    }

    /// Every artifact run `id` used or produced, in recording order.
    public func recordedArtifacts(ofRun id: RunID) throws -> [RecordedArtifact] {
        let rows = try database.query(
            """
            SELECT \(Self.eventColumns), \(Self.artifactColumns("a"))
            FROM events e JOIN artifacts a ON a.id = e.artifact_id
            WHERE e.run_id = ? ORDER BY e.time, e.id
            """, [id]
        ) { row in (Self.eventRecord(row), Self.artifactRecord(row, offset: 8)) }
        return try rows.map { event, artifact in
            RecordedArtifact(
                event: event, artifact: artifact, fileState: try fileState(of: artifact, at: event.path))
        }
    }

    // MARK: Internals

    static let artifactColumns = artifactColumns("artifacts")

    static func artifactColumns(_ table: String) -> String {
        ["id", "sha256", "size", "path", "kind", "producing_run_id", "created_at", "removed_at"]
            .map { "\(table).\($0)" }.joined(separator: ", ")
    }

    static let eventColumns = "e.run_id, e.artifact_id, e.direction, e.role, e.path, e.step, e.time, e.id"

    static func artifactRecord(_ row: SQLiteRow) -> Artifact {
        artifactRecord(row, offset: 0)
    }

    static func artifactRecord(_ row: SQLiteRow, offset: Int) -> Artifact {
        Artifact(
            id: row.int64(offset), sha256: row.text(offset + 1), size: row.int64(offset + 2),
            path: row.text(offset + 3), kind: ArtifactKind(row.text(offset + 4)),
            producingRunID: row.optionalInt64(offset + 5), createdAt: row.date(offset + 6),
            removedAt: row.optionalDate(offset + 7))
    }

    static func eventRecord(_ row: SQLiteRow) -> ArtifactEvent {
        ArtifactEvent(
            runID: row.int64(0), artifactID: row.int64(1),
            direction: EventDirection(rawValue: row.text(2)) ?? .used, role: ArtifactRole(row.text(3)),
            path: row.text(4), step: row.optionalInt64(5), time: row.date(6))
    }

    private func refreshed(_ artifact: Artifact) throws -> Artifact {
        try self.artifact(id: artifact.id) ?? artifact
    }

    /// The artifact most recently recorded at `path`, by event or by its known location.
    func artifactLastRecorded(atPath path: String) throws -> Artifact? {
        guard
            let id = try database.queryFirst(
                """
                SELECT artifact_id, time FROM events WHERE path = ?
                UNION ALL SELECT id, seen_at FROM artifacts WHERE path = ?
                ORDER BY 2 DESC LIMIT 1
                """, [path, path], { $0.int64(0) })
        else { return nil }
        return try artifact(id: id)
    }

    private func upsertArtifact(
        sha256: String, size: Int64, path: String, kind: ArtifactKind, producer: RunID?
    ) throws -> Artifact {
        let now = Date()
        // Same bytes, same artifact: a re-recorded file updates its location, and a file first
        // seen as external takes the kind and producer of the run that turns out to write it.
        let id = try database.queryFirst(
            """
            INSERT INTO artifacts(sha256, size, path, kind, producing_run_id, created_at, seen_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(sha256) DO UPDATE SET
                path = excluded.path,
                seen_at = excluded.seen_at,
                removed_at = NULL,
                producing_run_id = COALESCE(artifacts.producing_run_id, excluded.producing_run_id),
                kind = CASE WHEN artifacts.kind = 'external' THEN excluded.kind ELSE artifacts.kind END
            RETURNING id
            """, [sha256, size, path, kind.rawValue, producer, now, now], { $0.int64(0) })
        guard let id, let artifact = try artifact(id: id) else {
            throw RegistryError.noArtifactWithPrefix(sha256)
        }
        return artifact
    }

    private func insertEvent(
        run: RunID, artifact: ArtifactID, direction: EventDirection, role: ArtifactRole,
        path: String, step: Int64?
    ) throws {
        try database.run(
            """
            INSERT INTO events(run_id, artifact_id, direction, role, path, step, time)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(run_id, direction, role, artifact_id) DO UPDATE SET
                path = excluded.path, step = excluded.step, time = excluded.time
            """, [run, artifact, direction.rawValue, role.rawValue, path, step, Date()])
    }
}
