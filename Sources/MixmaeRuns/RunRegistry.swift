import CSQLite
import Foundation
import MixmaeSupport

/// The run registry: every run, the files it used and produced, its metrics and tags, in
/// one SQLite database under `MIXMAE_HOME` (default `./.mixmae`):
///
/// ```
/// MIXMAE_HOME/registry.sqlite     the database (WAL; several processes may write at once)
/// MIXMAE_HOME/runs/<id>/          each run's output folder (checkpoints, logs, pictures)
/// ```
///
/// A training process registers itself with ``beginRun(task:recipe:seed:plugins:tags:rerunOf:)``
/// and reports through the returned ``ActiveRun``; commands query it with ``runs(task:status:since:)``,
/// ``lineage(of:direction:)`` and friends.
///
/// ```swift
/// let registry = try RunRegistry()                      // MIXMAE_HOME or ./.mixmae
/// let run = try registry.beginRun(
///     task: "classify", recipe: RecipeSnapshot(text: resolvedYAML), seed: 0,
///     plugins: [swinRecord, headRecord])
/// let initial = try run.use(try WeightsReference(parsing: "run:12:best"), role: .initBackbone)
/// try model.load(from: initial.url)                      // the file's hash was verified
/// for step in 1...steps {
///     try run.log(step: step, ["loss": loss, "lr": lr])
///     if step % 1000 == 0 {
///         try save(to: run.outputDirectory.appendingPathComponent("last.safetensors"))
///         try run.recordProduced(fileAt: lastURL, role: .checkpointLast, step: step)
///     }
/// }
/// try run.finish(.finished)
/// ```
///
/// Opening the registry (and listing runs) marks RUNNING runs whose process has vanished
/// as CRASHED; see ``markVanishedRuns()``.
///
/// One instance may be shared by several threads; each call holds the connection's lock.
public final class RunRegistry {
    /// Timing knobs.
    public struct Options {
        /// How often an ``ActiveRun`` writes a heartbeat in the background; 0 turns the
        /// background heartbeat off (call ``ActiveRun/heartbeat()`` yourself).
        public var heartbeatInterval: TimeInterval = 30
        /// A run on another host whose heartbeat is older than this counts as CRASHED.
        /// (On this host the process itself is checked.)
        public var staleHeartbeatAfter: TimeInterval = 600
        /// Lock waiting and retrying of the database connection.
        public var database = SQLiteDatabase.Options()
        /// Open an existing registry without ever writing it (what `mixmae ui` does): no
        /// folder or database is created, the schema must already be current, and runs whose
        /// process vanished are left for a writing command to mark CRASHED.
        public var readOnly = false {
            didSet { database.readOnly = readOnly }
        }

        public init() {}
    }

    /// The registry folder (`MIXMAE_HOME`).
    public let home: URL
    /// The open database. Exposed for scripts and tests that need raw SQL.
    public let database: SQLiteDatabase
    public let options: Options

    /// The database file.
    public var databaseURL: URL { home.appendingPathComponent("registry.sqlite") }

    /// The folder that holds one output folder per run.
    public var runsDirectory: URL { home.appendingPathComponent("runs", isDirectory: true) }

    /// `MIXMAE_HOME` from the environment, else `./.mixmae`, as an absolute URL.
    public static func defaultHome(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) -> URL {
        let base = URL(fileURLWithPath: currentDirectory, isDirectory: true)
        if let value = environment["MIXMAE_HOME"], !value.isEmpty {
            let expanded = (value as NSString).expandingTildeInPath
            return URL(fileURLWithPath: expanded, isDirectory: true, relativeTo: base)
                .standardizedFileURL
        }
        return base.appendingPathComponent(".mixmae", isDirectory: true).standardizedFileURL
    }

    /// Opens the registry in `home` (default ``defaultHome(environment:currentDirectory:)``),
    /// creating it if needed, migrating its schema, and marking vanished runs CRASHED.
    ///
    /// Throws ``SchemaError/tooNew(path:found:supported:)`` for a registry written by a newer
    /// mixmae.
    ///
    /// Refuses to start over silently: a missing, empty or damaged database next to existing
    /// run folders is a ``LostRegistryError`` or ``DamagedRegistryError`` that says what was
    /// found and how to recover (`mixmae runs recover`). `PRAGMA quick_check` runs at every
    /// open (a few milliseconds for a registry of 1,000 runs).
    public convenience init(home: URL? = nil, options: Options = Options()) throws {
        try self.init(home: home, options: options, recovering: false)
    }

    /// `recovering`: open a new, empty database next to run folders (what `runs recover` does).
    package init(home: URL?, options: Options, recovering: Bool) throws {
        self.home = (home ?? RunRegistry.defaultHome()).standardizedFileURL
        self.options = options
        if options.readOnly {
            database = try Self.openReadOnly(home: self.home, options: options)
            return
        }
        do {
            try FileManager.default.createDirectory(at: self.home, withIntermediateDirectories: true)
        } catch {
            throw RegistrySetupError(path: self.home.path, reason: error.localizedDescription)
        }
        let path = self.home.appendingPathComponent("registry.sqlite").path
        let folders = Self.runFolderIDs(in: self.home.appendingPathComponent("runs", isDirectory: true))
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
        if !recovering && !folders.isEmpty && (size ?? 0) == 0 {
            throw LostRegistryError(path: path, found: size == nil ? .missing : .empty, runFolders: folders)
        }
        do {
            database = try SQLiteDatabase(path: path, options: options.database)
            let problems = try database.query("PRAGMA quick_check") { $0.text(0) }
            if problems != ["ok"] { throw DamagedRegistryError(path: path, problems: problems) }
            try SchemaMigrator(migrations: RegistrySchema.migrations).migrate(database)
        } catch let error as SQLiteError where error.code == SQLITE_NOTADB || error.code == SQLITE_CORRUPT {
            throw DamagedRegistryError(path: path, sqlite: error)
        }
        if !recovering && !folders.isEmpty,
            try database.queryFirst("SELECT COUNT(*) FROM runs", [], { $0.int64(0) }) == 0
        {
            throw LostRegistryError(path: path, found: .noRuns, runFolders: folders)
        }
        try markVanishedRuns()
    }

    static func runFolderIDs(in folder: URL) -> [RunID] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.compactMap { name in
            guard !name.isEmpty, name.allSatisfy(\.isNumber) else { return nil }
            return RunID(name)
        }.sorted()
    }

    private static func openReadOnly(home: URL, options: Options) throws -> SQLiteDatabase {
        let path = home.appendingPathComponent("registry.sqlite").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw RegistryNotReadableError(
                path: path, reason: "there is no registry here",
                hint:
                    "pass the folder that holds registry.sqlite with --home (or set MIXMAE_HOME), or train a run first")
        }
        do {
            let database = try SQLiteDatabase(path: path, options: options.database)
            let migrator = try SchemaMigrator(migrations: RegistrySchema.migrations)
            let found = try database.userVersion()
            if found > migrator.latestVersion {
                throw SchemaError.tooNew(path: path, found: found, supported: migrator.latestVersion)
            }
            if found < migrator.latestVersion {
                throw RegistryNotReadableError(
                    path: path,
                    reason: "its schema is version \(found), older than this mixmae's \(migrator.latestVersion), "
                        + "and a read-only reader does not upgrade it",
                    hint: "run `mixmae runs list` once with the same --home to upgrade it, then try again")
            }
            return database
        } catch let error as SQLiteError where error.code == SQLITE_NOTADB || error.code == SQLITE_CORRUPT {
            throw DamagedRegistryError(path: path, sqlite: error)
        }
    }

    /// The output folder of run `id`: `MIXMAE_HOME/runs/<id>/`.
    public func outputDirectory(ofRun id: RunID) -> URL {
        runsDirectory.appendingPathComponent(String(id), isDirectory: true)
    }

    // MARK: Starting, resuming and ending runs

    /// Registers a new RUNNING run owned by this process and creates its output folder.
    ///
    /// - Parameters:
    ///   - task: what the run does (`pretrain`, `classify`, `eval`, ...).
    ///   - recipe: the fully resolved recipe; it is stored so the run can be re-run exactly.
    ///   - seed: the run's random seed, if it has one.
    ///   - plugins: the plugin libraries the run loaded, with their hashes.
    ///   - tags: free-form labels (`["owner": "ana"]`).
    ///   - rerunOf: the run this one re-executes (what `mixmae rerun ID` passes).
    /// - Returns: the handle the training loop reports through.
    ///
    /// ```swift
    /// let run = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: yaml), seed: 42)
    /// print("run \(run.id) writes to \(run.outputDirectory.path)")
    /// ```
    public func beginRun(
        task: String, recipe: RecipeSnapshot, seed: UInt64?, plugins: [PluginRecord] = [],
        tags: [String: String] = [:], rerunOf parent: RunID? = nil
    ) throws -> ActiveRun {
        let me = ProcessIdentity.current
        let now = Date()
        // A new id never names an existing run folder, whatever the database remembers.
        let firstFree = (runFolderIDs().last ?? 0) + 1
        let id: RunID = try database.writeTransaction {
            if let parent { _ = try requireRun(parent) }
            try database.run(
                """
                INSERT INTO runs(id, task, status, recipe_text, recipe_sha256, seed, host, pid,
                    process_start, started_at, heartbeat_at, attempt, parent_run_id)
                VALUES (MAX(?, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'runs'), 0) + 1,
                        COALESCE((SELECT MAX(id) FROM runs), 0) + 1),
                    ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
                """,
                [
                    firstFree, task, recipe.text, recipe.sha256, seed.map { Int64(bitPattern: $0) }, me.host,
                    me.pid, me.startTicks, now, now, parent,
                ])
            let id = database.lastInsertRowID
            try insertAttempt(run: id, attempt: 1, identity: me, startedAt: now)
            for plugin in plugins {
                try database.run(
                    """
                    INSERT INTO run_plugins(run_id, plugin_id, version, library_path, library_sha256)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                    [id, plugin.id, plugin.version, plugin.libraryPath, plugin.librarySHA256])
            }
            for (key, value) in tags {
                try upsertTag(run: id, key: key, value: value)
            }
            return id
        }
        try createOutputDirectory(ofRun: id)
        try RunFolderRecord(
            id: id, task: task, recipeText: recipe.text, recipeSHA256: recipe.sha256, seed: seed, parentRunID: parent,
            startedAt: now, plugins: plugins
        ).write(in: outputDirectory(ofRun: id))
        return ActiveRun(registry: self, id: id, attempt: 1)
    }

    /// Continues run `id` as a new attempt owned by this process (`--resume`): the attempt
    /// count goes up by one and the run is RUNNING again, under the same id.
    ///
    /// Refuses a run that is still running, and a FINISHED run (start a new run from its
    /// weights instead). The caller loads the run's last checkpoint with
    /// ``checkpoint(ofRun:role:)``.
    ///
    /// ```swift
    /// let run = try registry.resumeRun(12)
    /// let last = try registry.checkpoint(ofRun: 12, role: .checkpointLast)
    /// ```
    public func resumeRun(_ id: RunID) throws -> ActiveRun {
        try markVanishedRuns()
        let me = ProcessIdentity.current
        let now = Date()
        let attempt: Int = try database.writeTransaction {
            let run = try requireRun(id)
            switch run.status {
            case .running: throw RegistryError.runStillRunning(run: id, host: run.host, pid: run.pid)
            case .finished: throw RegistryError.cannotResumeFinished(id)
            case .failed, .killed, .crashed: break
            }
            let attempt = run.attempt + 1
            try database.run(
                """
                UPDATE runs SET status = 'RUNNING', attempt = ?, host = ?, pid = ?,
                    process_start = ?, heartbeat_at = ?, ended_at = NULL, error = NULL
                WHERE id = ?
                """,
                [attempt, me.host, me.pid, me.startTicks, now, id])
            try insertAttempt(run: id, attempt: attempt, identity: me, startedAt: now)
            return attempt
        }
        try createOutputDirectory(ofRun: id)
        return ActiveRun(registry: self, id: id, attempt: attempt)
    }

    func heartbeat(run id: RunID, attempt: Int) throws {
        try database.writeTransaction {
            // A run on another host may have been marked CRASHED while it was only out of
            // touch; a heartbeat from its own attempt shows it is alive.
            try database.run(
                """
                UPDATE runs SET heartbeat_at = ?, status = 'RUNNING', ended_at = NULL, error = NULL
                WHERE id = ? AND attempt = ? AND status IN ('RUNNING', 'CRASHED')
                """,
                [Date(), id, attempt])
            guard database.changes == 1 else { throw try notOwned(run: id, attempt: attempt) }
            try database.run(
                """
                UPDATE run_attempts SET status = 'RUNNING', ended_at = NULL, error = NULL
                WHERE run_id = ? AND attempt = ? AND status = 'CRASHED'
                """,
                [id, attempt])
        }
    }

    func finish(run id: RunID, attempt: Int, outcome: RunOutcome) throws {
        let now = Date()
        try database.writeTransaction {
            try database.run(
                """
                UPDATE runs SET status = ?, ended_at = ?, heartbeat_at = ?, error = ?
                WHERE id = ? AND attempt = ? AND status IN ('RUNNING', 'CRASHED')
                """,
                [outcome.status.rawValue, now, now, outcome.errorText, id, attempt])
            guard database.changes == 1 else { throw try notOwned(run: id, attempt: attempt) }
            try database.run(
                "UPDATE run_attempts SET status = ?, ended_at = ?, error = ? WHERE run_id = ? AND attempt = ?",
                [outcome.status.rawValue, now, outcome.errorText, id, attempt])
        }
    }

    /// Stores `samples` in the database and appends them to the run folder's
    /// ``RunMetricsLog`` (what `mixmae runs recover` reads them back from).
    func log(run id: RunID, metrics samples: [MetricSample]) throws {
        guard !samples.isEmpty else { return }
        try RunMetricsLog(folder: outputDirectory(ofRun: id)).append(samples)
        try insertMetrics(run: id, samples)
    }

    /// Inserts `samples` into the database only.
    func insertMetrics(run id: RunID, _ samples: [MetricSample]) throws {
        try database.writeTransaction {
            for sample in samples {
                try database.run(
                    "INSERT INTO metrics(run_id, step, name, value, time) VALUES (?, ?, ?, ?, ?)",
                    [id, sample.step, sample.name, sample.value.isNaN ? nil : sample.value, sample.time])
            }
        }
    }

    func setTag(run id: RunID, key: String, value: String) throws {
        try database.writeTransaction { try upsertTag(run: id, key: key, value: value) }
    }

    // MARK: Honest status

    /// Marks as CRASHED every RUNNING run whose process has vanished, and returns their ids.
    ///
    /// A run on this host is gone when its pid no longer exists, is a zombie, or now
    /// belongs to a process with another start time; a run on another host is gone when
    /// its heartbeat is older than ``Options/staleHeartbeatAfter``. Its end time becomes
    /// its last heartbeat. Called when the registry opens and before listing runs.
    @discardableResult
    public func markVanishedRuns(now: Date = Date()) throws -> [RunID] {
        if options.readOnly { return [] }
        let running = try database.query(
            "SELECT id, host, pid, process_start, heartbeat_at, attempt FROM runs WHERE status = 'RUNNING'"
        ) { row in
            (
                id: row.int64(0),
                identity: ProcessIdentity(
                    host: row.text(1), pid: Int32(truncatingIfNeeded: row.int64(2)),
                    startTicks: row.optionalInt64(3)),
                heartbeat: row.date(4), attempt: row.int(5)
            )
        }
        let vanished = running.filter {
            !$0.identity.isAlive(heartbeat: $0.heartbeat, staleAfter: options.staleHeartbeatAfter, now: now)
        }
        guard !vanished.isEmpty else { return [] }
        let local = ProcessIdentity.hostName()
        return try database.writeTransaction {
            var marked: [RunID] = []
            for run in vanished {
                let how =
                    run.identity.host == local
                    ? "process \(run.identity.pid) on \(run.identity.host) is gone"
                    : "no heartbeat from \(run.identity.host) (pid \(run.identity.pid)) since "
                        + RegistryDates.display(run.heartbeat)
                let message =
                    "crashed: \(how); the run ended without recording an outcome "
                    + "(killed with SIGKILL, out of memory, or the machine stopped)"
                try database.run(
                    """
                    UPDATE runs SET status = 'CRASHED', ended_at = heartbeat_at, error = ?
                    WHERE id = ? AND attempt = ? AND status = 'RUNNING' AND heartbeat_at = ?
                    """,
                    [message, run.id, run.attempt, run.heartbeat])
                guard database.changes == 1 else { continue }
                try database.run(
                    """
                    UPDATE run_attempts SET status = 'CRASHED', ended_at = ?, error = ?
                    WHERE run_id = ? AND attempt = ?
                    """,
                    [run.heartbeat, message, run.id, run.attempt])
                marked.append(run.id)
            }
            return marked
        }
    }

    // MARK: Reading runs

    /// Run `id`, or nil when there is none.
    public func run(_ id: RunID) throws -> RunRecord? {
        try database.queryFirst("SELECT \(Self.runColumns) FROM runs WHERE id = ?", [id], Self.runRecord)
    }

    /// Runs newest first, optionally only of one task, one status, or started since a date.
    ///
    /// ```swift
    /// let failed = try registry.runs(status: .failed, since: try RegistryDates.parse("7d"))
    /// ```
    public func runs(task: String? = nil, status: RunStatus? = nil, since: Date? = nil) throws
        -> [RunRecord]
    {
        try markVanishedRuns()
        var conditions: [String] = []
        var values: [SQLiteBindable] = []
        if let task {
            conditions.append("task = ?")
            values.append(task)
        }
        if let status {
            conditions.append("status = ?")
            values.append(status.rawValue)
        }
        if let since {
            conditions.append("started_at >= ?")
            values.append(since)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try database.query(
            "SELECT \(Self.runColumns) FROM runs \(filter) ORDER BY id DESC", values, Self.runRecord)
    }

    /// The resolved recipe run `id` was started from: what `mixmae rerun` executes again.
    public func recipe(ofRun id: RunID) throws -> RecipeSnapshot {
        guard
            let recipe = try database.queryFirst(
                "SELECT recipe_text, recipe_sha256 FROM runs WHERE id = ?", [id],
                { RecipeSnapshot(text: $0.text(0), sha256: $0.text(1)) })
        else { throw RegistryError.runNotFound(id) }
        return recipe
    }

    /// The plugins run `id` loaded, by plugin id.
    public func plugins(ofRun id: RunID) throws -> [PluginRecord] {
        try database.query(
            """
            SELECT plugin_id, version, library_path, library_sha256 FROM run_plugins
            WHERE run_id = ? ORDER BY plugin_id
            """, [id]
        ) {
            PluginRecord(id: $0.text(0), version: $0.text(1), libraryPath: $0.text(2), librarySHA256: $0.text(3))
        }
    }

    /// Every attempt of run `id`, first to last.
    public func attempts(ofRun id: RunID) throws -> [RunAttempt] {
        try database.query(
            """
            SELECT attempt, host, pid, started_at, ended_at, status, error FROM run_attempts
            WHERE run_id = ? ORDER BY attempt
            """, [id]
        ) {
            RunAttempt(
                attempt: $0.int(0), host: $0.text(1), pid: Int32(truncatingIfNeeded: $0.int64(2)),
                startedAt: $0.date(3), endedAt: $0.optionalDate(4),
                status: RunStatus(rawValue: $0.text(5)) ?? .crashed, error: $0.optionalText(6))
        }
    }

    /// The tags of run `id`.
    public func tags(ofRun id: RunID) throws -> [String: String] {
        let pairs = try database.query("SELECT key, value FROM tags WHERE run_id = ?", [id]) {
            ($0.text(0), $0.text(1))
        }
        return Dictionary(pairs, uniquingKeysWith: { _, last in last })
    }

    /// The values of one metric of run `id`, by step (logging order within a step).
    public func metrics(ofRun id: RunID, named name: String) throws -> [MetricSample] {
        try database.query(
            "SELECT step, name, value, time FROM metrics WHERE run_id = ? AND name = ? ORDER BY step, id",
            [id, name], Self.metricSample)
    }

    /// Every metric value of run `id`, by name, then step (logging order within a step).
    public func metrics(ofRun id: RunID) throws -> [MetricSample] {
        try database.query(
            "SELECT step, name, value, time FROM metrics WHERE run_id = ? ORDER BY name, step, id", [id],
            Self.metricSample)
    }

    /// Last and best value of every metric of run `id`, by name. "Best" follows
    /// ``MetricGoal/inferred(from:)``.
    public func metricSummaries(ofRun id: RunID) throws -> [MetricSummary] {
        let names = try database.query(
            "SELECT name, COUNT(*) FROM metrics WHERE run_id = ? GROUP BY name ORDER BY name", [id]
        ) { ($0.text(0), $0.int(1)) }
        return try names.compactMap { name, count in
            let point: (SQLiteRow) -> MetricSummary.Point = {
                MetricSummary.Point(step: $0.int64(0), value: $0.optionalDouble(1) ?? .nan)
            }
            guard
                let last = try database.queryFirst(
                    """
                    SELECT step, value FROM metrics WHERE run_id = ? AND name = ?
                    ORDER BY step DESC, id DESC LIMIT 1
                    """, [id, name], point)
            else { return nil }
            let goal = MetricGoal.inferred(from: name)
            var best: MetricSummary.Point?
            if goal != .none {
                let order = goal == .minimize ? "ASC" : "DESC"
                best = try database.queryFirst(
                    """
                    SELECT step, value FROM metrics WHERE run_id = ? AND name = ? AND value IS NOT NULL
                    ORDER BY value \(order), step DESC LIMIT 1
                    """, [id, name], point)
            }
            return MetricSummary(name: name, count: count, last: last, best: best, goal: goal)
        }
    }

    // MARK: Internals

    static let runColumns = """
        id, task, status, recipe_sha256, seed, host, pid, started_at, ended_at, heartbeat_at,
        error, attempt, parent_run_id
        """

    static func runRecord(_ row: SQLiteRow) -> RunRecord {
        RunRecord(
            id: row.int64(0), task: row.text(1), status: RunStatus(rawValue: row.text(2)) ?? .crashed,
            recipeSHA256: row.text(3), seed: row.optionalInt64(4).map { UInt64(bitPattern: $0) },
            host: row.text(5), pid: Int32(truncatingIfNeeded: row.int64(6)), startedAt: row.date(7),
            endedAt: row.optionalDate(8), heartbeatAt: row.date(9), error: row.optionalText(10),
            attempt: row.int(11), parentRunID: row.optionalInt64(12))
    }

    static func metricSample(_ row: SQLiteRow) -> MetricSample {
        MetricSample(
            step: row.int64(0), name: row.text(1), value: row.optionalDouble(2) ?? .nan,
            time: row.date(3))
    }

    /// The run with this id, or ``RegistryError/runNotFound(_:)``.
    package func requireRun(_ id: RunID) throws -> RunRecord {
        guard let run = try run(id) else { throw RegistryError.runNotFound(id) }
        return run
    }

    private func notOwned(run id: RunID, attempt: Int) throws -> RegistryError {
        let run = try requireRun(id)
        return .runNotOwned(run: id, attempt: attempt, status: run.status, currentAttempt: run.attempt)
    }

    private func insertAttempt(run: RunID, attempt: Int, identity: ProcessIdentity, startedAt: Date) throws {
        try database.run(
            """
            INSERT INTO run_attempts(run_id, attempt, host, pid, process_start, started_at, status)
            VALUES (?, ?, ?, ?, ?, ?, 'RUNNING')
            """,
            [run, attempt, identity.host, identity.pid, identity.startTicks, startedAt])
    }

    private func upsertTag(run: RunID, key: String, value: String) throws {
        try database.run(
            """
            INSERT INTO tags(run_id, key, value) VALUES (?, ?, ?)
            ON CONFLICT(run_id, key) DO UPDATE SET value = excluded.value
            """,
            [run, key, value])
    }

    private func createOutputDirectory(ofRun id: RunID) throws {
        let directory = outputDirectory(ofRun: id)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw RegistrySetupError(path: directory.path, reason: error.localizedDescription)
        }
    }
}

/// The registry folder or a run folder could not be created.
public struct RegistrySetupError: UserFacingError {
    public let path: String
    public let reason: String
    public var what: String { "cannot create \(path): \(reason)" }
    public var hint: String? { "set MIXMAE_HOME to a writable folder" }
}

/// A read-only reader (`mixmae ui`) cannot use the registry as it is.
public struct RegistryNotReadableError: UserFacingError {
    public let path: String
    public let reason: String
    public let hint: String?
    public var what: String { "cannot read the run registry \(path): \(reason)" }
}

/// The registry database exists but SQLite cannot read it (not a database, or corrupt), or
/// `PRAGMA quick_check` found damaged pages.
public struct DamagedRegistryError: UserFacingError {
    public let path: String
    /// SQLite's message, or what `quick_check` reported.
    public let problems: [String]

    init(path: String, sqlite: SQLiteError) {
        self.path = path
        self.problems = ["\(sqlite.message) (sqlite error \(sqlite.extendedCode) while opening)"]
    }

    init(path: String, problems: [String]) {
        self.path = path
        self.problems = problems
    }

    public var what: String {
        "\(path) is damaged: \(problems.prefix(3).joined(separator: "; "))"
            + (problems.count > 3 ? " (and \(problems.count - 3) more problems)" : "") + "; nothing was changed"
    }

    public var hint: String? {
        "run `mixmae runs recover` to rebuild the registry from the run folders (the damaged file is kept as "
            + "registry.sqlite.damaged-TIME), or set MIXMAE_HOME to another folder; when copying a registry, copy "
            + "registry.sqlite with its -wal file"
    }
}

/// The registry database is missing, empty or holds no runs, but run folders exist: opening
/// it as new would reuse their ids and overwrite their files.
public struct LostRegistryError: UserFacingError {
    public enum Found: String {
        case missing = "does not exist"
        case empty = "is empty (0 bytes)"
        case noRuns = "holds no runs"
    }
    public let path: String
    public let found: Found
    public let runFolders: [RunID]

    public var what: String {
        let folder = (path as NSString).deletingLastPathComponent + "/runs"
        let ids =
            runFolders.count <= 6
            ? runFolders.map(String.init).joined(separator: ", ")
            : "\(runFolders.first!) to \(runFolders.last!)"
        return "\(path) \(found.rawValue), but \(folder) holds \(runFolders.count) run folder"
            + (runFolders.count == 1 ? "" : "s") + " (\(ids)); refusing to start a new registry over them"
    }

    public var hint: String? {
        "run `mixmae runs recover` to rebuild the registry from the run folders, or restore the database "
            + "(registry.sqlite with its -wal file) from a copy"
    }
}
