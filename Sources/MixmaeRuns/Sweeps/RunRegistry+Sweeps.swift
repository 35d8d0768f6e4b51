import Foundation
import MixmaeSupport

/// A sweep as the registry keeps it.
public struct SweepRecord: Sendable {
    public var id: Int64
    public var spec: SweepSpec
    public var specSHA256: String
    public var createdAt: Date
}

/// A run of a sweep: which point and stage it ran.
public struct SweepMember: Sendable, Equatable {
    public var point: Int
    public var stage: Int
    public var run: RunRecord
}

/// No sweep has this id.
public struct SweepNotFoundError: UserFacingError {
    public var id: Int64
    public var what: String { "there is no sweep \(id) in this registry" }
    public var hint: String? { "a sweep gets its id when `mixmae sweep` starts; it prints it on its first line" }
}

extension RunRegistry {
    /// The sweep with this spec, created if it is new (`created` says which): the
    /// same sweep command run again finds the sweep it started before.
    public func sweep(for spec: SweepSpec) throws -> (sweep: SweepRecord, created: Bool) {
        let json = try spec.canonicalJSON()
        let hash = SHA256.hex(of: Data(json.utf8))
        return try database.writeTransaction {
            if let found = try findSweep(sha256: hash) { return (found, false) }
            try database.run(
                "INSERT INTO sweeps(spec_sha256, spec, created_at) VALUES (?, ?, ?)", [hash, json, Date()])
            guard let created = try findSweep(sha256: hash) else { throw SweepNotFoundError(id: 0) }
            return (created, true)
        }
    }

    /// Sweep `id`.
    public func sweep(_ id: Int64) throws -> SweepRecord {
        guard
            let found = try database.queryFirst(
                "SELECT id, spec_sha256, spec, created_at FROM sweeps WHERE id = ?", [id], Self.sweepRecord)
        else { throw SweepNotFoundError(id: id) }
        return try found.get()
    }

    /// Every sweep, newest first.
    public func sweeps() throws -> [SweepRecord] {
        try database.query(
            "SELECT id, spec_sha256, spec, created_at FROM sweeps ORDER BY id DESC", [], Self.sweepRecord
        )
        .map { try $0.get() }
    }

    /// The runs tagged with sweep `id`, by point, stage and run id.
    public func members(ofSweep id: Int64) throws -> [SweepMember] {
        try markVanishedRuns()
        let rows = try database.query(
            """
            SELECT p.run_id, p.value, s.value FROM tags AS t
            JOIN tags AS p ON p.run_id = t.run_id AND p.key = ?
            JOIN tags AS s ON s.run_id = t.run_id AND s.key = ?
            WHERE t.key = ? AND t.value = ?
            ORDER BY p.run_id
            """, [SweepTags.point, SweepTags.stage, SweepTags.sweep, String(id)]
        ) { ($0.int64(0), Int($0.text(1)), Int($0.text(2))) }
        return try rows.compactMap { runID, point, stage in
            guard let point, let stage, let record = try run(runID) else { return nil }
            return SweepMember(point: point, stage: stage, run: record)
        }.sorted { ($0.point, $0.stage, $0.run.id) < ($1.point, $1.stage, $1.run.id) }
    }

    private func findSweep(sha256: String) throws -> SweepRecord? {
        try database.queryFirst(
            "SELECT id, spec_sha256, spec, created_at FROM sweeps WHERE spec_sha256 = ?", [sha256], Self.sweepRecord
        ).map { try $0.get() }
    }

    private static func sweepRecord(_ row: SQLiteRow) -> Result<SweepRecord, Error> {
        Result {
            let spec = try JSONDecoder().decode(SweepSpec.self, from: Data(row.text(2).utf8))
            return SweepRecord(id: row.int64(0), spec: spec, specSHA256: row.text(1), createdAt: row.date(3))
        }
    }
}
