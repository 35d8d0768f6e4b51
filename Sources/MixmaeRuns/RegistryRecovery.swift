import Foundation
import MixmaeSupport

/// `mixmae runs recover`: rebuilds the registry from the run folders into a new database,
/// after moving the old database (if any) aside as `registry.sqlite.damaged-TIME` with its
/// `-wal` and `-shm` files. It never writes into the old file.
///
/// From each `runs/<id>/` it takes the run record (`run.json`: task, recipe, seed, parent,
/// plugins, initial weights), or for a folder of an older mixmae its `recipe.yaml`; the
/// committed checkpoints (manifests) and the published checkpoint files; its metrics
/// (``RunMetricsLog``, `metrics.jsonl`; runs of a mixmae older than that file have none);
/// the lineage from the recorded initial weights, matched by content. Recovered runs are
/// CRASHED (their outcome was not kept) and can be resumed.
///
/// ```swift
/// let report = try RegistryRecovery(home: RunRegistry.defaultHome()).run()
/// print(report.recoveredRuns, report.movedAside)
/// ```
public struct RegistryRecovery {
    /// What a recovery did.
    public struct Report: Codable, Equatable {
        /// The old database files, with the names they were moved to.
        public var movedAside: [String: String] = [:]
        public var recoveredRuns: [RunID] = []
        /// Checkpoint files recorded.
        public var checkpoints = 0
        /// Metric values restored from the runs' `metrics.jsonl`.
        public var metrics = 0
        /// Initial-weights links restored (lineage).
        public var lineageLinks = 0
        /// Folders or files that could not be used, and why.
        public var problems: [String] = []
    }

    public let home: URL
    public var options: RunRegistry.Options

    public init(home: URL, options: RunRegistry.Options = RunRegistry.Options()) {
        self.home = home.standardizedFileURL
        self.options = options
    }

    /// Moves the old database aside and rebuilds a new one from the run folders.
    public func run(now: Date = Date()) throws -> Report {
        var report = Report()
        let database = home.appendingPathComponent("registry.sqlite").path
        let stamp = Self.stamp(now)
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
            let target = database + ".damaged-" + stamp + suffix
            try DurableFile.rename(database + suffix, to: target)
            report.movedAside[database + suffix] = target
        }
        let registry = try RunRegistry(home: home, options: options, recovering: true)
        var uses: [(RunID, RunFolderRecord.Use)] = []
        for id in registry.runFolderIDs() {
            let folder = registry.outputDirectory(ofRun: id)
            do {
                let record = try RunFolderRecord.read(in: folder) ?? Self.legacyRecord(id: id, folder: folder)
                guard let record else {
                    report.problems.append("\(folder.path): no run.json and no recipe.yaml; skipped")
                    continue
                }
                try registry.insertRecovered(record)
                report.recoveredRuns.append(id)
                let samples = try RunMetricsLog(folder: folder).read()
                try registry.insertMetrics(run: id, samples)
                report.metrics += samples.count
                report.checkpoints += try registry.adoptCommittedCheckpoints(ofRun: id).count
                report.checkpoints += try registry.recordPublishedCheckpoints(ofRun: id)
                uses += record.used.map { (id, $0) }
            } catch {
                report.problems.append("\(folder.path): \(error)")
            }
        }
        for (id, use) in uses {
            do {
                if try registry.restoreUse(run: id, use) { report.lineageLinks += 1 }
            } catch {
                report.problems.append("run \(id) \(use.role) \(use.path): \(error)")
            }
        }
        return report
    }

    /// A record for a folder written before `run.json` existed: its recipe, a task read from
    /// the recipe's `task:` line (default pretrain), the folder's date.
    static func legacyRecord(id: RunID, folder: URL) throws -> RunFolderRecord? {
        let recipe = folder.appendingPathComponent("recipe.yaml")
        guard let text = try? String(contentsOf: recipe, encoding: .utf8) else { return nil }
        let task =
            text.split(separator: "\n").lazy.compactMap { line -> String? in
                guard line.hasPrefix("task:") else { return nil }
                let value = line.dropFirst(5).split(separator: "#").first ?? ""
                return value.trimmingCharacters(in: .whitespaces)
            }.first ?? "pretrain"
        let created =
            (try? FileManager.default.attributesOfItem(atPath: folder.path)[.creationDate] as? Date)
            ?? (try? FileManager.default.attributesOfItem(atPath: folder.path)[.modificationDate] as? Date) ?? Date()
        return RunFolderRecord(
            id: id, task: task, recipeText: text, recipeSHA256: SHA256.hex(of: Data(text.utf8)), seed: nil,
            parentRunID: nil, startedAt: created, plugins: [])
    }

    private static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: date)
    }
}

extension RunRegistry {
    /// Inserts a run rebuilt from its folder, CRASHED, with one attempt.
    func insertRecovered(_ record: RunFolderRecord) throws {
        let message =
            "recovered by `mixmae runs recover` from its folder; its outcome was lost with the old registry"
        try database.writeTransaction {
            try database.run(
                """
                INSERT INTO runs(id, task, status, recipe_text, recipe_sha256, seed, host, pid,
                    started_at, ended_at, heartbeat_at, error, attempt, parent_run_id)
                VALUES (?, ?, 'CRASHED', ?, ?, ?, ?, 0, ?, ?, ?, ?, 1, NULL)
                """,
                [
                    record.id, record.task, record.recipeText, record.recipeSHA256,
                    record.seed.map { Int64(bitPattern: $0) }, ProcessIdentity.hostName(), record.startedAt,
                    record.startedAt, record.startedAt, message,
                ])
            try database.run(
                """
                INSERT INTO run_attempts(run_id, attempt, host, pid, started_at, ended_at, status, error)
                VALUES (?, 1, ?, 0, ?, ?, 'CRASHED', ?)
                """, [record.id, ProcessIdentity.hostName(), record.startedAt, record.startedAt, message])
            for plugin in record.plugins {
                try database.run(
                    """
                    INSERT INTO run_plugins(run_id, plugin_id, version, library_path, library_sha256)
                    VALUES (?, ?, ?, ?, ?)
                    """, [record.id, plugin.id, plugin.version, plugin.libraryPath, plugin.librarySHA256])
            }
        }
        if let parent = record.parentRunID, try run(parent) != nil {
            try database.writeTransaction {
                try database.run("UPDATE runs SET parent_run_id = ? WHERE id = ?", [parent, record.id])
            }
        }
    }

    /// Records the published checkpoints of a folder without manifests (an older mixmae):
    /// `epoch-NNNN`, `best` and `last.safetensors`, in that order. Returns how many.
    func recordPublishedCheckpoints(ofRun id: RunID) throws -> Int {
        let folder = outputDirectory(ofRun: id)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        var recorded = 0
        let candidates =
            names.filter { $0.hasPrefix("epoch-") && $0.hasSuffix(".safetensors") }
            .map { ($0, ArtifactRole.checkpointEpoch) }
            + [("best.safetensors", .checkpointBest), ("last.safetensors", .checkpointLast)]
        for (name, role) in candidates where names.contains(name) {
            let url = folder.appendingPathComponent(name)
            if let known = try artifactLastRecorded(atPath: url.standardizedFileURL.path),
                try database.queryFirst(
                    "SELECT 1 FROM events WHERE run_id = ? AND artifact_id = ? AND direction = 'produced'",
                    [id, known.id], { $0.int64(0) }) != nil
            {
                continue
            }
            _ = try recordProduced(run: id, fileAt: url, kind: .checkpoint, role: role, step: nil)
            recorded += 1
        }
        return recorded
    }

    /// Records that run `id` used a file, found by its content: a checkpoint of another
    /// recovered run, or the file at its recorded path. False when the bytes are nowhere.
    func restoreUse(run id: RunID, _ use: RunFolderRecord.Use) throws -> Bool {
        var artifact = try self.artifact(sha256: use.sha256)
        if artifact == nil, FileManager.default.fileExists(atPath: use.path),
            (try? FileDigest.of(URL(fileURLWithPath: use.path)).sha256) == use.sha256
        {
            artifact = try registerFile(at: URL(fileURLWithPath: use.path))
        }
        guard let artifact else { return false }
        try recordUsed(run: id, artifact: artifact, role: ArtifactRole(use.role), path: use.path)
        return true
    }
}
