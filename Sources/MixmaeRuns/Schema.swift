import Foundation
import MixmaeSupport

/// One forward step of a database schema: from `version - 1` to `version`.
///
/// ```swift
/// SchemaMigration(version: 2, summary: "add run notes") { db in
///     try db.execute("ALTER TABLE runs ADD COLUMN note TEXT")
/// }
/// ```
public struct SchemaMigration {
    /// The schema version after this step (`PRAGMA user_version`).
    public let version: Int
    /// One line saying what the step changes.
    public let summary: String
    /// Applies the step; runs inside the migrator's write transaction.
    public let apply: (SQLiteDatabase) throws -> Void

    public init(version: Int, summary: String, apply: @escaping (SQLiteDatabase) throws -> Void) {
        self.version = version
        self.summary = summary
        self.apply = apply
    }
}

/// Brings a database's schema up to date with an ordered list of ``SchemaMigration`` steps.
///
/// The version lives in `PRAGMA user_version` (0 for a new file). All pending steps run in
/// one `BEGIN IMMEDIATE` transaction, so concurrent processes opening a new database
/// migrate it exactly once, and a failing step leaves the database as it was. A database
/// whose version is newer than the last step is refused: this code does not know its
/// schema.
///
/// ```swift
/// let migrator = try SchemaMigrator(migrations: RegistrySchema.migrations)
/// let (from, to) = try migrator.migrate(db)
/// ```
public struct SchemaMigrator {
    /// The steps, versions 1, 2, ... in order.
    public let migrations: [SchemaMigration]

    /// The version a fully migrated database has.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Checks that the steps are numbered 1, 2, 3, ... without gaps.
    public init(migrations: [SchemaMigration]) throws {
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            throw SchemaError.badMigrationList(
                "migration \(index + 1) (\(migration.summary)) says it is version "
                    + "\(migration.version); steps must be numbered 1, 2, 3, ...")
        }
        self.migrations = migrations
    }

    /// Applies the pending steps and returns the version before and after.
    ///
    /// Throws ``SchemaError/tooNew(path:found:supported:)`` for a database written by
    /// newer code.
    @discardableResult
    public func migrate(_ database: SQLiteDatabase) throws -> (from: Int, to: Int) {
        let found = try database.userVersion()
        try refuseIfTooNew(found, database)
        if found == latestVersion { return (found, found) }
        return try database.writeTransaction {
            let current = try database.userVersion()
            try refuseIfTooNew(current, database)
            for migration in migrations where migration.version > current {
                do {
                    try migration.apply(database)
                } catch {
                    throw SchemaError.migrationFailed(
                        path: database.path, version: migration.version,
                        summary: migration.summary, underlying: "\(error)")
                }
                try database.setUserVersion(migration.version)
            }
            return (current, latestVersion)
        }
    }

    private func refuseIfTooNew(_ version: Int, _ database: SQLiteDatabase) throws {
        if version > latestVersion {
            throw SchemaError.tooNew(path: database.path, found: version, supported: latestVersion)
        }
    }
}

/// A schema could not be brought up to date.
public enum SchemaError: UserFacingError {
    /// The database was written by a newer mixmae.
    case tooNew(path: String, found: Int, supported: Int)
    /// A migration step failed; the database is unchanged.
    case migrationFailed(path: String, version: Int, summary: String, underlying: String)
    /// The list of steps is not numbered 1, 2, 3, ...
    case badMigrationList(String)

    public var what: String {
        switch self {
        case .tooNew(let path, let found, let supported):
            return "the registry database \(path) has schema version \(found), but this mixmae "
                + "only knows versions up to \(supported): it was written by a newer mixmae. "
                + "Upgrade mixmae, or set MIXMAE_HOME to use another registry."
        case .migrationFailed(let path, let version, let summary, let underlying):
            return "migrating \(path) to schema version \(version) (\(summary)) failed; "
                + "the database was left unchanged: \(underlying)"
        case .badMigrationList(let reason):
            return "bad schema migration list: \(reason)"
        }
    }
}

/// The run registry's schema, one migration per version.
public enum RegistrySchema {
    /// Every step, oldest first. Append new steps; never edit a released one.
    public static let migrations: [SchemaMigration] = [
        SchemaMigration(
            version: 1,
            summary: "runs, attempts, plugins, artifacts, events, metrics, tags",
            apply: { try $0.execute(version1) }),
        SchemaMigration(
            version: 2,
            summary: "sweeps (mixmae sweep): one row per grid, its runs tagged sweep / sweep.point / sweep.stage",
            apply: { try $0.execute(version2) }),
        SchemaMigration(
            version: 3,
            summary: "index metrics(name): the names of all metrics without reading every metric row",
            apply: { try $0.execute(version3) }),
    ]

    // ``RunRegistry/metricNames()`` (the runs page's metric-column picker) walks this index
    // from one name to the next: a lookup per distinct name instead of a scan of every row.
    private static let version3 = """
        CREATE INDEX metrics_name ON metrics(name);
        """

    // `spec` is the sweep's canonical JSON (``SweepSpec``), `spec_sha256` its hash: running
    // the same sweep command again finds the same row and resumes it.
    private static let version2 = """
        CREATE TABLE sweeps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            spec_sha256 TEXT NOT NULL UNIQUE,
            spec TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        """

    // `artifacts.path` is where the bytes were last seen, at `seen_at`.
    // Times are REAL seconds since 1970 UTC. Metric values may be NULL, which stands for
    // NaN (SQLite stores NaN as NULL). `process_start` is the start time of the run's process
    // in clock ticks since boot (/proc/PID/stat), which tells a reused pid from the original.
    private static let version1 = """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'CRASHED')),
            recipe_text TEXT NOT NULL,
            recipe_sha256 TEXT NOT NULL,
            seed INTEGER,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            process_start INTEGER,
            started_at REAL NOT NULL,
            ended_at REAL,
            heartbeat_at REAL NOT NULL,
            error TEXT,
            attempt INTEGER NOT NULL DEFAULT 1,
            parent_run_id INTEGER REFERENCES runs(id)
        );
        CREATE INDEX runs_status ON runs(status);
        CREATE INDEX runs_started ON runs(started_at);
        CREATE INDEX runs_task_started ON runs(task, started_at);
        CREATE INDEX runs_parent ON runs(parent_run_id);

        CREATE TABLE run_attempts (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            process_start INTEGER,
            started_at REAL NOT NULL,
            ended_at REAL,
            status TEXT NOT NULL,
            error TEXT,
            PRIMARY KEY (run_id, attempt)
        ) WITHOUT ROWID;

        CREATE TABLE run_plugins (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            plugin_id TEXT NOT NULL,
            version TEXT NOT NULL,
            library_path TEXT NOT NULL,
            library_sha256 TEXT NOT NULL,
            PRIMARY KEY (run_id, plugin_id)
        ) WITHOUT ROWID;

        CREATE TABLE artifacts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sha256 TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            path TEXT NOT NULL,
            kind TEXT NOT NULL,
            producing_run_id INTEGER REFERENCES runs(id),
            created_at REAL NOT NULL,
            seen_at REAL NOT NULL,
            removed_at REAL
        );
        CREATE INDEX artifacts_producer ON artifacts(producing_run_id);
        CREATE INDEX artifacts_path ON artifacts(path);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            artifact_id INTEGER NOT NULL REFERENCES artifacts(id),
            direction TEXT NOT NULL CHECK (direction IN ('used', 'produced')),
            role TEXT NOT NULL,
            path TEXT NOT NULL,
            step INTEGER,
            time REAL NOT NULL,
            UNIQUE (run_id, direction, role, artifact_id)
        );
        CREATE INDEX events_artifact ON events(artifact_id, direction);
        CREATE INDEX events_path ON events(path);

        CREATE TABLE metrics (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            time REAL NOT NULL
        );
        CREATE INDEX metrics_run_name_step ON metrics(run_id, name, step);

        CREATE TABLE tags (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX tags_key_value ON tags(key, value);
        """
}
