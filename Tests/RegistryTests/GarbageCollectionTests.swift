import Foundation
import MixmaeRuns
import TestSupport
import Testing

@Suite struct GarbageCollectionTests {
    @Test func deletesOnlyUnusedCheckpointsOfUnsuccessfulRuns() throws {
        let directory = try TemporaryFolder("gc")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        func run(_ task: String) throws -> ActiveRun {
            try registry.beginRun(task: task, recipe: RecipeSnapshot(text: task), seed: nil)
        }
        func checkpoint(_ run: ActiveRun, _ name: String, role: ArtifactRole = .checkpointLast) throws -> Artifact {
            try run.recordProduced(
                fileAt: try writeCheckpoint(run.outputDirectory.appendingPathComponent(name), "\(run.id) \(name)"),
                role: role)
        }

        // A killed run whose checkpoint a finetune used: it has a descendant and must stay.
        let killedUsed = try run("pretrain")
        let ancestor = try checkpoint(killedUsed, "last.bin")
        try killedUsed.finish(.killed(signal: SIGTERM))
        let child = try run("finetune")
        try child.use(.run(killedUsed.id, .last), role: .initBackbone)
        try child.finish(.finished)

        // A failed run nobody used: garbage, including an overwritten earlier checkpoint.
        let failed = try run("pretrain")
        _ = try checkpoint(failed, "last.bin")
        let garbage = try checkpoint(failed, "last.bin")  // overwrites the first
        let garbageOptimizer = try failed.recordProduced(
            fileAt: try writeCheckpoint(failed.outputDirectory.appendingPathComponent("optim.bin"), "optimizer"),
            kind: .optimizerState, role: .optimizerState)
        try failed.finish(.failed("diverged"))

        // A finished run: never garbage.
        let finished = try run("pretrain")
        let kept = try checkpoint(finished, "last.bin")
        try finished.finish(.finished)

        // A crashed run that used its own checkpoint on resume is still garbage.
        let crashed = try run("pretrain")
        let crashedCheckpoint = try checkpoint(crashed, "last.bin")
        try crashed.recordUsed(crashedCheckpoint, role: "resume")
        try registry.database.run("UPDATE runs SET status = 'CRASHED' WHERE id = ?", [crashed.id])

        let candidates = try registry.garbageCandidates()
        #expect(Set(candidates.map(\.artifact.id)) == [garbage.id, garbageOptimizer.id, crashedCheckpoint.id])
        #expect(candidates.first { $0.artifact.id == garbage.id }?.files.map(\.path) == [garbage.path])

        let results = try registry.collectGarbage()
        #expect(results.allSatisfy { $0.outcome == .deleted })
        #expect(Set(results.map(\.artifact.id)) == [garbage.id, garbageOptimizer.id, crashedCheckpoint.id])
        #expect(!FileManager.default.fileExists(atPath: garbage.path))
        #expect(!FileManager.default.fileExists(atPath: crashedCheckpoint.path))
        // The ancestor with a descendant and the finished run's checkpoint are untouched.
        #expect(try registry.verify(ancestor).path == ancestor.path)
        #expect(try registry.verify(kept).path == kept.path)
        // Deleted artifacts stay in the registry, marked, and say so when resolved.
        #expect(try registry.artifact(id: garbage.id)?.removedAt != nil)
        let error = thrownError { _ = try registry.resolveWeights(.run(failed.id, .last)) }
        #expect("\(error!)".contains("`mixmae runs gc --delete` removed it"))
        #expect(try registry.garbageCandidates().isEmpty)
    }

    @Test func aFileOverwrittenByOtherBytesIsKept() throws {
        let directory = try TemporaryFolder("gc")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let failed = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "x"), seed: nil)
        let url = try writeCheckpoint(failed.outputDirectory.appendingPathComponent("last.bin"), "recorded")
        let artifact = try failed.recordProduced(fileAt: url, role: .checkpointLast)
        try failed.finish(.failed("boom"))
        #expect(try registry.garbageCandidates().map(\.artifact.id) == [artifact.id])
        // Someone replaced the file by hand after the listing.
        try writeCheckpoint(url, "someone else's weights")
        let results = try registry.collectGarbage()
        #expect(results.map(\.outcome) == [.keptChanged])
        #expect(FileManager.default.fileExists(atPath: url.path))
    }
}
