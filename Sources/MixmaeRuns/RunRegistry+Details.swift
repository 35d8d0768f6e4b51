import Foundation
import MixmaeSupport

/// A run connected to another run: through an artifact one produced and the other used,
/// or as a re-run.
public struct RunLink: Codable, Equatable {
    public let runID: RunID
    public let task: String
    public let status: RunStatus
    /// `artifact` (through a file) or `rerun`.
    public let relation: String
    /// The role the artifact was used in (`init.backbone`); nil for a re-run.
    public let role: ArtifactRole?
    /// The artifact's hash; nil for a re-run.
    public let sha256: String?
}

/// Everything `mixmae runs show` prints about one run.
public struct RunDetails: Codable, Equatable {
    public let run: RunRecord
    public let outputDirectory: String
    public let recipe: RecipeSnapshot
    public let plugins: [PluginRecord]
    public let attempts: [RunAttempt]
    public let tags: [String: String]
    public let metrics: [MetricSummary]
    public let artifacts: [RecordedArtifact]
    /// Runs whose artifacts this run used, and the run it re-runs.
    public let parents: [RunLink]
    /// Runs that used this run's artifacts, and its re-runs.
    public let children: [RunLink]
}

/// Two runs side by side: what `mixmae runs compare` prints.
public struct RunComparison: Codable, Equatable {
    /// One metric's final (last) value in each run.
    public struct MetricRow: Codable, Equatable {
        public let name: String
        public let a: Double?
        public let b: Double?
        /// b - a when both exist.
        public let delta: Double?

        public init(name: String, a: Double?, b: Double?) {
            self.name = name
            self.a = a
            self.b = b
            self.delta = a.flatMap { a in b.map { $0 - a } }
        }
    }
    public let a: RunDetails
    public let b: RunDetails
    /// Unified diff of the resolved recipes; empty when they are identical.
    public let recipeDiff: String
    public let metrics: [MetricRow]
}

extension RunRegistry {
    /// Everything known about run `id`.
    public func details(ofRun id: RunID) throws -> RunDetails {
        try markVanishedRuns()
        return try database.readTransaction {
            let run = try requireRun(id)
            return RunDetails(
                run: run, outputDirectory: outputDirectory(ofRun: id).path, recipe: try recipe(ofRun: id),
                plugins: try plugins(ofRun: id), attempts: try attempts(ofRun: id), tags: try tags(ofRun: id),
                metrics: try metricSummaries(ofRun: id), artifacts: try recordedArtifacts(ofRun: id),
                parents: try parents(ofRun: id), children: try children(ofRun: id))
        }
    }

    /// The runs whose artifacts run `id` used (one step up the lineage), then the run it re-runs.
    public func parents(ofRun id: RunID) throws -> [RunLink] {
        var links = try database.query(
            """
            SELECT DISTINCT r.id, r.task, r.status, u.role, a.sha256
            FROM events u
            JOIN events p ON p.artifact_id = u.artifact_id AND p.direction = 'produced'
            JOIN runs r ON r.id = p.run_id
            JOIN artifacts a ON a.id = u.artifact_id
            WHERE u.run_id = ? AND u.direction = 'used' AND p.run_id != u.run_id
            ORDER BY r.id, u.role
            """, [id], Self.artifactLink)
        links += try database.query(
            """
            SELECT parent.id, parent.task, parent.status FROM runs child
            JOIN runs parent ON parent.id = child.parent_run_id WHERE child.id = ?
            """, [id], Self.rerunLink)
        return links
    }

    /// The runs that used run `id`'s artifacts (one step down the lineage), then its re-runs.
    public func children(ofRun id: RunID) throws -> [RunLink] {
        var links = try database.query(
            """
            SELECT DISTINCT r.id, r.task, r.status, u.role, a.sha256
            FROM events p
            JOIN events u ON u.artifact_id = p.artifact_id AND u.direction = 'used'
            JOIN runs r ON r.id = u.run_id
            JOIN artifacts a ON a.id = p.artifact_id
            WHERE p.run_id = ? AND p.direction = 'produced' AND u.run_id != p.run_id
            ORDER BY r.id, u.role
            """, [id], Self.artifactLink)
        links += try database.query(
            "SELECT id, task, status FROM runs WHERE parent_run_id = ? ORDER BY id", [id], Self.rerunLink)
        return links
    }

    /// Runs `a` and `b` side by side: details, recipe diff, final metrics.
    public func compare(_ a: RunID, _ b: RunID) throws -> RunComparison {
        let left = try details(ofRun: a)
        let right = try details(ofRun: b)
        let diff = UnifiedDiff.make(
            old: left.recipe.text, new: right.recipe.text,
            oldLabel: "run \(a) recipe (sha256 \(left.recipe.sha256.prefix(12)))",
            newLabel: "run \(b) recipe (sha256 \(right.recipe.sha256.prefix(12)))")
        let leftLast = Dictionary(uniqueKeysWithValues: left.metrics.map { ($0.name, $0.last.value) })
        let rightLast = Dictionary(uniqueKeysWithValues: right.metrics.map { ($0.name, $0.last.value) })
        let names = Set(leftLast.keys).union(rightLast.keys).sorted()
        return RunComparison(
            a: left, b: right, recipeDiff: diff,
            metrics: names.map { RunComparison.MetricRow(name: $0, a: leftLast[$0], b: rightLast[$0]) })
    }

    private static func artifactLink(_ row: SQLiteRow) -> RunLink {
        RunLink(
            runID: row.int64(0), task: row.text(1), status: RunStatus(rawValue: row.text(2)) ?? .crashed,
            relation: "artifact", role: ArtifactRole(row.text(3)), sha256: row.text(4))
    }

    private static func rerunLink(_ row: SQLiteRow) -> RunLink {
        RunLink(
            runID: row.int64(0), task: row.text(1), status: RunStatus(rawValue: row.text(2)) ?? .crashed,
            relation: "rerun", role: nil, sha256: nil)
    }
}
