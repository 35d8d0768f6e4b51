import Foundation
import MixmaeRuns
import MixmaeSupport
import TestSupport
import Testing

@Suite struct RunStatusTests {
    /// Starts /bin/true, waits for it, and returns its (now dead) pid.
    func deadPID() throws -> Int32 {
        let process = try ChildProcess("/bin/true", [])
        try process.wait(timeout: 30)
        return process.pid
    }

    func beginRun(_ registry: RunRegistry, task: String = "pretrain") throws -> ActiveRun {
        try registry.beginRun(
            task: task, recipe: RecipeSnapshot(text: "task: \(task)\n"), seed: 7,
            plugins: [PluginRecord(id: "swin", version: "1.2.0", libraryPath: "/x/libswin.so", librarySHA256: "cd")],
            tags: ["owner": "test"])
    }

    @Test func beginRecordsEverything() throws {
        let directory = try TemporaryFolder("status")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let run = try beginRun(registry)
        let record = try #require(try registry.run(run.id))
        #expect(record.status == .running)
        #expect(record.pid == getpid())
        #expect(record.host == ProcessIdentity.hostName())
        #expect(record.seed == 7)
        #expect(record.attempt == 1)
        #expect(record.recipeSHA256 == SHA256.hex(of: Array("task: pretrain\n".utf8)))
        #expect(try registry.recipe(ofRun: run.id).text == "task: pretrain\n")
        #expect(try registry.plugins(ofRun: run.id).map(\.id) == ["swin"])
        #expect(try registry.tags(ofRun: run.id) == ["owner": "test"])
        #expect(FileManager.default.fileExists(atPath: run.outputDirectory.path))
        try run.finish(.failed("out of memory at step 12"))
        let failed = try #require(try registry.run(run.id))
        #expect(failed.status == .failed)
        #expect(failed.error == "out of memory at step 12")
        #expect(failed.endedAt != nil)
    }

    @Test func aRunWhosePidIsDeadIsCrashedOnTheNextAccess() throws {
        let directory = try TemporaryFolder("status")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let alive = try beginRun(registry, task: "alive")
        let dead = try beginRun(registry, task: "dead")
        let pid = try deadPID()
        try registry.database.run("UPDATE runs SET pid = ?, process_start = NULL WHERE id = ?", [pid, dead.id])

        let reopened = try RunRegistry(home: directory.url, options: quietOptions())
        let crashed = try #require(try reopened.run(dead.id))
        #expect(crashed.status == .crashed)
        #expect(crashed.error?.contains("process \(pid) on \(ProcessIdentity.hostName()) is gone") == true)
        #expect(crashed.endedAt == crashed.heartbeatAt)
        #expect(try reopened.attempts(ofRun: dead.id).last?.status == .crashed)
        #expect(try reopened.run(alive.id)?.status == .running)
        #expect(try reopened.runs(status: .crashed).map(\.id) == [dead.id])
    }

    @Test func aReusedPidIsNotMistakenForTheRun() throws {
        let directory = try TemporaryFolder("status")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let run = try beginRun(registry)
        // Our own pid, but a different process start time: another process now owns the pid.
        try registry.database.run("UPDATE runs SET process_start = process_start + 1 WHERE id = ?", [run.id])
        #expect(try registry.markVanishedRuns() == [run.id])
        #expect(try registry.run(run.id)?.status == .crashed)
    }

    @Test func runsOnOtherHostsAreJudgedByTheirHeartbeat() throws {
        let directory = try TemporaryFolder("status")
        var options = quietOptions()
        options.staleHeartbeatAfter = 60
        let registry = try RunRegistry(home: directory.url, options: options)
        let fresh = try beginRun(registry, task: "fresh")
        let stale = try beginRun(registry, task: "stale")
        try registry.database.run(
            "UPDATE runs SET host = 'gpu-node-7', pid = 1 WHERE id IN (?, ?)", [fresh.id, stale.id])
        try registry.database.run(
            "UPDATE runs SET heartbeat_at = ? WHERE id = ?", [Date().addingTimeInterval(-3600), stale.id])
        #expect(try registry.markVanishedRuns() == [stale.id])
        #expect(try registry.run(fresh.id)?.status == .running)
        let crashed = try #require(try registry.run(stale.id))
        #expect(crashed.status == .crashed)
        #expect(crashed.error?.contains("no heartbeat from gpu-node-7") == true)
        // The process was only out of touch: its next heartbeat makes it RUNNING again.
        try stale.heartbeat()
        #expect(try registry.run(stale.id)?.status == .running)
        #expect(try registry.run(stale.id)?.error == nil)
        #expect(try registry.attempts(ofRun: stale.id).last?.status == .running)
    }

    @Test func resumeIsANewAttemptUnderTheSameID() throws {
        let directory = try TemporaryFolder("status")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let first = try beginRun(registry)
        #expect("\(thrownError { _ = try registry.resumeRun(first.id) }!)".contains("is still running"))
        try first.finish(.killed(signal: SIGINT))
        #expect(try registry.run(first.id)?.error == "stopped by SIGINT")

        let second = try registry.resumeRun(first.id)
        #expect(second.id == first.id)
        #expect(second.attempt == 2)
        let record = try #require(try registry.run(first.id))
        #expect(record.status == .running)
        #expect(record.attempt == 2)
        #expect(record.endedAt == nil && record.error == nil)
        let attempts = try registry.attempts(ofRun: first.id)
        #expect(attempts.map(\.status) == [.killed, .running])
        // The first attempt's handle no longer owns the run.
        let stolen = thrownError { try first.heartbeat() }
        guard case RegistryError.runNotOwned(_, 1, .running, 2)? = stolen as? RegistryError else {
            Issue.record("expected runNotOwned, got \(String(describing: stolen))")
            return
        }
        try second.finish(.finished)
        #expect(try registry.run(first.id)?.status == .finished)
        #expect(
            "\(thrownError { _ = try registry.resumeRun(first.id) }!)".contains("is FINISHED and cannot be resumed"))
    }

    @Test func rerunLinksToItsParentAndKeepsTheRecipe() throws {
        let directory = try TemporaryFolder("status")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let original = try beginRun(registry)
        try original.finish(.finished)
        let recipe = try registry.recipe(ofRun: original.id)
        let rerun = try registry.beginRun(task: "pretrain", recipe: recipe, seed: 7, rerunOf: original.id)
        #expect(try registry.run(rerun.id)?.parentRunID == original.id)
        #expect(try registry.run(rerun.id)?.recipeSHA256 == recipe.sha256)
        #expect(try registry.children(ofRun: original.id).map(\.relation) == ["rerun"])
        #expect(try registry.parents(ofRun: rerun.id).map(\.runID) == [original.id])
        #expect(thrownError { _ = try registry.beginRun(task: "x", recipe: recipe, seed: nil, rerunOf: 999) } != nil)
    }

    @Test func backgroundHeartbeatKeepsTheRunFresh() throws {
        let directory = try TemporaryFolder("status")
        var options = RunRegistry.Options()
        options.heartbeatInterval = 0.05
        let registry = try RunRegistry(home: directory.url, options: options)
        let run = try beginRun(registry)
        let started = try #require(try registry.run(run.id)).heartbeatAt
        #expect(try waitUntil(timeout: 5) { try registry.run(run.id)!.heartbeatAt > started })
        try run.finish(.finished)
        let ended = try #require(try registry.run(run.id)).heartbeatAt
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try registry.run(run.id)?.heartbeatAt == ended)
    }

    @Test func listFiltersByTaskStatusAndDate() throws {
        let directory = try TemporaryFolder("status")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let a = try beginRun(registry, task: "pretrain")
        let b = try beginRun(registry, task: "finetune-cls")
        try b.finish(.finished)
        try registry.database.run(
            "UPDATE runs SET started_at = ? WHERE id = ?", [Date().addingTimeInterval(-10 * 86_400), a.id])
        #expect(try registry.runs().map(\.id) == [b.id, a.id])
        #expect(try registry.runs(task: "pretrain").map(\.id) == [a.id])
        #expect(try registry.runs(status: .finished).map(\.id) == [b.id])
        #expect(try registry.runs(since: try RegistryDates.parse("7d")).map(\.id) == [b.id])
        #expect(try registry.runs(since: try RegistryDates.parse("2000-01-01")).count == 2)
        #expect(thrownError { _ = try RegistryDates.parse("last tuesday") } != nil)
    }
}
