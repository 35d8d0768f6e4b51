import Foundation
import MixKit
import MixmaeRuns
import TestSupport
import Testing

/// Training killed with SIGKILL in every window of writing a checkpoint (a hidden test
/// variable stops the process at a named phase) and at random moments, then resumed: the
/// final weights equal those of an uninterrupted run, bit for bit.
@Suite(.serialized) struct KillTests {
    /// The phases of one checkpoint commit, in order (`CrashPoint.phases`).
    static let phases = [
        "before-save", "after-optim-rename", "after-weights-rename", "after-manifest", "after-publish-optim",
        "after-publish", "after-record",
    ]
    /// A tiny pretraining: 6 steps an epoch, no pictures, drop path on (the model's generator
    /// must be restored exactly).
    static let settings = [
        "--set", "log.pictures=0", "--set", "log.val_images=0", "--set", "model.backbone.drop_path_rate=0.2",
    ]

    func crashing(_ ws: TrainingWorkspace, at phase: String, _ arguments: [String]) throws -> ProcessResult {
        try runMixmae(
            arguments, in: ws.folder.path, environment: ws.environment.merging(["MIXMAE_TEST_CRASH_AT": phase]) { $1 },
            timeout: 120)
    }

    @Test func aRunKilledInEveryCheckpointWindowResumesToTheSameWeights() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 6, batch: 8)
        let full = try ws.mixmae(["train", "pretrain.yaml"] + Self.settings)
        #expect(full.status == 0, "\(full.stderr)")

        var arguments = ["train", "pretrain.yaml"] + Self.settings
        for phase in Self.phases {
            let killed = try crashing(ws, at: phase, arguments)
            #expect(killed.signalled && killed.status == SIGKILL, "\(phase): \(killed.stderr)")
            let leftovers = try ws.registry.run(2)
            #expect(leftovers?.status == .crashed, "\(phase)")
            arguments = ["train", "--resume", "run:2"]
        }
        let resumed = try ws.mixmae(arguments)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(!resumed.stderr.contains("modified outside mixmae"), "\(resumed.stderr)")
        #expect(try ws.registry.run(2)?.status == .finished)
        #expect(try ws.registry.run(2)?.attempt == Self.phases.count + 1)
        #expect(try ws.weights(ofRun: 1) == ws.weights(ofRun: 2))
        // What the registry resolves for run:2 is the final checkpoint, and nothing was left behind.
        let last = try ws.registry.checkpoint(ofRun: 2, role: .checkpointLast)
        #expect(try SafeTensorsFile(path: last.url.path).metadata["mixmae.step"] == "36")
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.folder.file("home/runs/2"))
        #expect(!names.contains { $0.contains(".tmp-") }, "\(names)")
        #expect(names.filter { $0.hasSuffix(".manifest.json") }.count <= 2, "\(names)")
    }

    /// The three windows of issue 11 one at a time on a fresh run each: killed between the
    /// optimizer state and the weights, after publishing but before recording, and before the
    /// first checkpoint was recorded. Each resumes (`run:ID` resolves too) and ends equal.
    @Test func theThreeWindowsOfIssue11AreResumable() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 2, batch: 8)
        #expect(try ws.mixmae(["train", "pretrain.yaml"] + Self.settings).status == 0)
        let reference = try ws.weights(ofRun: 1)
        let windows = ["after-optim-rename@12", "after-publish@12", "after-optim-rename@6"]
        for (index, window) in windows.enumerated() {
            let id = RunID(index + 2)
            let killed = try crashing(ws, at: window, ["train", "pretrain.yaml"] + Self.settings)
            #expect(killed.signalled, "\(window): \(killed.stderr)")
            if window.hasPrefix("after-publish") {
                // The published checkpoint is found (not "modified outside mixmae") before any resume.
                let last = try ws.registry.checkpoint(ofRun: id, role: .checkpointLast)
                #expect(try SafeTensorsFile(path: last.url.path).metadata["mixmae.step"] == "12")
            }
            let resumed = try ws.mixmae(["train", "--resume", "run:\(id)"])
            #expect(resumed.status == 0, "\(window): \(resumed.stderr)")
            if window == "after-optim-rename@6" {
                #expect(resumed.stderr.contains("starting it again from step 0"), "\(resumed.stderr)")
            }
            #expect(try ws.weights(ofRun: id) == reference, "\(window)")
        }
    }

    /// Ctrl-C asks for a clean stop; a second Ctrl-C while the checkpoint is being written ends
    /// the process at once (SIGINT's default action). Nothing is corrupted: the run resumes
    /// and ends with the weights of an uninterrupted run.
    @Test func aSecondCtrlCWhileSavingCorruptsNothing() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 3, batch: 8)
        #expect(try ws.mixmae(["train", "pretrain.yaml"] + Self.settings).status == 0)
        let child = try startMixmae(
            ["train", "pretrain.yaml"] + Self.settings, in: ws.folder.path,
            environment: ws.environment.merging(["MIXMAE_TEST_PAUSE_AT": "after-optim-rename@12"]) { $1 })
        let paused = waitUntil(timeout: 120) { child.standardErrorSoFar.contains("test pause at after-optim-rename") }
        #expect(paused, "\(child.standardErrorSoFar)")
        child.send(SIGINT)
        _ = waitUntil(timeout: 10) { child.standardErrorSoFar.contains("stop requested") }
        child.send(SIGINT)
        let stopped = try child.wait(timeout: 60)
        #expect(stopped.signalled && stopped.status == SIGINT, "\(stopped.stderr)")
        let resumed = try ws.mixmae(["train", "--resume", "run:2"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming (attempt 2) from"), "\(resumed.stderr)")
        #expect(try ws.weights(ofRun: 1) == ws.weights(ofRun: 2))
    }

    /// SIGKILL at seeded random moments (startup, training, evaluation, checkpointing),
    /// resumed each time. The moments are fractions of how long the uninterrupted run took, so
    /// they fall inside a run on a fast machine and on a loaded one alike.
    @Test func randomKillsResumeToTheSameWeights() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 4, batch: 8)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try ws.mixmae(["train", "pretrain.yaml"] + Self.settings).status == 0)
        let duration = (clock.now - start) / .seconds(1)
        var generator = RandomGenerator(seed: 11)
        var kills = 0
        var finished = false
        for _ in 0..<12 where !finished {
            let started = (try ws.registry.run(2)) != nil
            let arguments = started ? ["train", "--resume", "run:2"] : ["train", "pretrain.yaml"] + Self.settings
            let child = try startMixmae(arguments, in: ws.folder.path, environment: ws.environment)
            let delay = duration * (0.1 + 0.8 * Double(generator.nextUniform()))
            if waitUntil(timeout: delay, { !child.isRunning }) {
                let result = try child.wait(timeout: 60)
                #expect(result.status == 0, "\(result.stderr)")
                finished = true
            } else {
                child.send(SIGKILL)
                try child.wait(timeout: 60)
                kills += 1
                // The kill can land after the run was recorded as finished, while the process
                // was exiting: there is nothing left to resume then.
                finished = try ws.registry.run(2)?.status == .finished
            }
        }
        if !finished {
            let last = try ws.mixmae(["train", "--resume", "run:2"])
            #expect(last.status == 0, "\(last.stderr)")
        }
        #expect(kills > 0)
        #expect(try ws.registry.run(2)?.status == .finished)
        #expect(try ws.weights(ofRun: 1) == ws.weights(ofRun: 2))
    }
}
