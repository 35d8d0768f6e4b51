import Foundation
import MixmaeRuns
import MixmaeSupport
import TestSupport
import Testing

/// Tests with real `mixmae` processes against one registry file.
@Suite struct ProcessTests {
    /// Starts `mixmae debug simulate-run` training until a signal, and waits until it has
    /// logged a few steps (its signal handlers are installed before the run is registered).
    func startEndlessRun(home: URL, checkpointEvery: Int = 1000) throws -> (ChildProcess, RunRecord) {
        let process = try startMixmae(
            [
                "debug", "simulate-run", "--steps", "0", "--step-milliseconds", "5", "--checkpoint-every",
                "\(checkpointEvery)",
            ], environment: ["MIXMAE_HOME": home.path])
        let registry = try RunRegistry(home: home, options: quietOptions())
        var run: RunRecord?
        let started = try waitUntil(timeout: 30) {
            run = try registry.runs().first { $0.pid == process.pid }
            guard let run else { return false }
            return try registry.metrics(ofRun: run.id, named: "loss").count >= 3
        }
        guard started, let run else {
            process.send(SIGKILL)
            throw TestSetupError("simulate-run did not start logging within 30 s")
        }
        return (process, run)
    }

    @Test func sigintFinishesTheStepWritesACheckpointAndMarksKilled() throws {
        let directory = try TemporaryFolder("signal")
        let (process, run) = try startEndlessRun(home: directory.url)
        process.send(SIGINT)
        let result = try process.wait(timeout: 30)
        #expect(!result.signalled)
        #expect(result.status == 128 + SIGINT)

        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let record = try #require(try registry.run(run.id))
        #expect(record.status == .killed)
        #expect(record.error == "stopped by SIGINT")
        #expect(record.endedAt != nil)
        // The checkpoint written on the way out is whole: its hash matches the registry.
        let checkpoint = try registry.checkpoint(ofRun: run.id, role: .checkpointLast)
        let lastStep = try #require(try registry.metrics(ofRun: run.id, named: "loss").last?.step)
        #expect(try String(contentsOf: checkpoint.url, encoding: .isoLatin1).contains("step: \(lastStep)\n"))
        #expect(try FileDigest.of(checkpoint.url).sha256 == checkpoint.artifact.sha256)
    }

    @Test func sigtermIsHandledLikeSigint() throws {
        let directory = try TemporaryFolder("signal")
        let (process, run) = try startEndlessRun(home: directory.url)
        process.send(SIGTERM)
        #expect(try process.wait(timeout: 30).status == 128 + SIGTERM)
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        #expect(try registry.run(run.id)?.status == .killed)
        #expect(try registry.run(run.id)?.error == "stopped by SIGTERM")
    }

    @Test func sigkillShowsCrashedAndTheRunCanBeResumed() throws {
        let directory = try TemporaryFolder("signal")
        let (process, run) = try startEndlessRun(home: directory.url, checkpointEvery: 2)
        process.send(SIGKILL)
        #expect(try process.wait(timeout: 30).signalled)

        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let record = try #require(try registry.run(run.id))
        #expect(record.status == .crashed)
        #expect(record.error?.contains("process \(run.pid)") == true)

        // `list` through the CLI shows it too.
        let listed = try mixmae(["runs", "list", "--format", "json"], home: directory.url)
        #expect(listed.status == 0)
        let runs = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as! [[String: Any]]
        #expect(runs.first?["status"] as? String == "CRASHED")

        // --resume continues the crashed run under its id from its last checkpoint.
        let checkpoint = try registry.checkpoint(ofRun: run.id, role: .checkpointLast)
        let checkpointStep = try #require(checkpoint.artifact.producingRunID == run.id ? lastStep(checkpoint.url) : nil)
        let resumed = try mixmae(
            ["debug", "simulate-run", "--resume", "\(run.id)", "--steps", "\(checkpointStep + 5)"], home: directory.url)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("run \(run.id) started (attempt 2)"))
        let after = try #require(try registry.run(run.id))
        #expect(after.status == .finished)
        #expect(after.attempt == 2)
        #expect(try registry.attempts(ofRun: run.id).map(\.status) == [.crashed, .finished])
        // The resumed attempt logged the steps after the checkpoint (earlier rows are kept).
        let latest = try registry.database.query(
            "SELECT step FROM metrics WHERE run_id = ? AND name = 'loss' ORDER BY id DESC LIMIT 5", [run.id]
        ) { $0.int64(0) }
        #expect(latest.reversed() == Array(checkpointStep + 1...checkpointStep + 5))
    }

    private func lastStep(_ url: URL) throws -> Int64 {
        let text = try String(contentsOf: url, encoding: .isoLatin1)
        let line = text.split(separator: "\n").first { $0.hasPrefix("step: ") } ?? ""
        return Int64(line.dropFirst(6)) ?? -1
    }

    /// 8 processes register runs, log metrics in many small transactions, record artifacts
    /// and read each other's checkpoints, all on one fresh database file.
    @Test func eightConcurrentWritersLoseNothing() throws {
        let directory = try TemporaryFolder("load")
        let (workers, runs, metrics, artifacts) = (8, 6, 60, 3)
        let arguments = [
            "debug", "registry-load", "--runs", "\(runs)", "--metrics", "\(metrics)", "--metric-batch", "5",
            "--artifacts", "\(artifacts)", "--artifact-bytes", "2048",
        ]
        let children = try (0..<workers).map { _ in
            try startMixmae(arguments, environment: ["MIXMAE_HOME": directory.path])
        }
        let results = try children.map { try $0.wait(timeout: 300) }
        #expect(results.count == workers)
        var runIDs: [Int64] = []
        for result in results {
            #expect(result.status == 0, "worker failed: \(result.stderr)")
            #expect(!result.stderr.contains("locked"), "\(result.stderr)")
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            runIDs += (summary["runIDs"] as? [NSNumber] ?? []).map(\.int64Value)
            #expect(summary["metrics"] as? Int == runs * metrics)
            #expect(summary["artifacts"] as? Int == runs * artifacts)
        }
        #expect(Set(runIDs).count == workers * runs)

        let db = try RunRegistry(home: directory.url, options: quietOptions()).database
        func count(_ sql: String) throws -> Int { try db.query(sql) { $0.int(0) }.first ?? -1 }
        let totalRuns = workers * runs
        #expect(try count("SELECT COUNT(*) FROM runs") == totalRuns)
        #expect(try count("SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'") == totalRuns)
        #expect(try count("SELECT COUNT(*) FROM run_attempts") == totalRuns)
        #expect(try count("SELECT COUNT(*) FROM run_plugins") == totalRuns)
        #expect(try count("SELECT COUNT(*) FROM tags") == totalRuns)
        #expect(try count("SELECT COUNT(*) FROM metrics") == totalRuns * metrics)
        #expect(try count("SELECT COUNT(*) FROM artifacts") == totalRuns * artifacts)
        #expect(try count("SELECT COUNT(*) FROM events WHERE direction = 'produced'") == totalRuns * (artifacts + 1))
        #expect(try count("SELECT COUNT(*) FROM events WHERE direction = 'used'") == workers * (runs - 1))
        #expect(try count("SELECT COUNT(DISTINCT run_id) FROM metrics") == totalRuns)
        #expect(try db.query("PRAGMA integrity_check") { $0.text(0) } == ["ok"])
        #expect(try db.query("PRAGMA foreign_key_check") { $0.text(0) }.isEmpty)
    }
}
