import Foundation
import MixKit
import MixmaeRuns
import TestSupport
import Testing

/// `mixmae sweep` end to end on tiny data: real child processes, a real registry,
/// the paper's switches as grid keys, the finetune stage's lineage, the table of
/// `runs compare --sweep`, Ctrl-C and resuming.
@Suite(.serialized) struct SweepTests {
    /// Small and quick: no pictures, no validation images, 4 steps an epoch.
    static let quick = ["--set", "log.pictures=0", "--set", "log.val_images=0", "--set", "log.every=1"]

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    /// mix vs mask_token, each finetuned from its own pretraining run: four runs,
    /// tagged, linked, in one table that `runs compare --sweep` prints again; the
    /// mask_token checkpoint has the encoder's [MASK] token, the mix one does not.
    /// The same command again runs nothing.
    @Test func aSweepWithAFinetuneStageKeepsTheLineageAndTabulates() throws {
        let ws = try TrainingWorkspace(images: 80)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        try ws.classifyRecipe(name: "classify.yaml", initWeights: "")
        let command =
            ["sweep", "pretrain.yaml"] + Self.quick + [
                "--grid", "mask.mode=mix,mask_token", "--format", "json", "--then", "classify.yaml", "--set",
                "init.weights={parent}", "--set", "log.every=1",
            ]
        let result = try ws.mixmae(command)
        #expect(result.status == 0, "\(result.stderr)")
        let table = try json(result.stdout)
        #expect(table["sweep"] as? Int == 1)
        #expect(table["keys"] as? [String] == ["mask.mode"])
        let rows = try #require(table["rows"] as? [[String: Any]])
        #expect(rows.map { $0["values"] as? [String] } == [["mix"], ["mask_token"]])
        let registry = try ws.registry
        #expect(try registry.runs().count == 4)
        let members = try registry.members(ofSweep: 1)
        #expect(
            members.map { "\($0.point).\($0.stage).\($0.run.task).\($0.run.status.rawValue)" }.sorted() == [
                "1.1.pretrain.FINISHED", "1.2.classify.FINISHED", "2.1.pretrain.FINISHED", "2.2.classify.FINISHED",
            ])
        for row in rows {
            let stages = try #require(row["stages"] as? [[String: Any]])
            let pretrain = try #require(stages.first?["run"] as? Int)
            let finetune = try #require(stages.last?["run"] as? Int)
            // The finetune started from its point's pretraining run: lineage down from it finds it.
            let lineage = try ws.mixmae(["lineage", "run:\(pretrain)", "--down", "--format", "json"])
            #expect(lineage.status == 0 && lineage.stdout.contains("\"to\" : \"run:\(finetune)\""), "\(lineage.stdout)")
            let metrics = try #require((stages.last?["metrics"] as? [String: Any]))
            #expect(metrics["top1"] is Double)
            #expect(row["compute_tflops"] is Double, "\(row)")
        }
        let mixRun = try #require((rows[0]["stages"] as? [[String: Any]])?.first?["run"] as? Int)
        let tokenRun = try #require((rows[1]["stages"] as? [[String: Any]])?.first?["run"] as? Int)
        #expect(try ws.weights(ofRun: RunID(tokenRun))["encoder_mask_token"]?.count == 16)
        #expect(try ws.weights(ofRun: RunID(mixRun))["encoder_mask_token"] == nil)

        let compare = try ws.mixmae(["runs", "compare", "--sweep", "1", "--format", "json"])
        #expect(compare.status == 0, "\(compare.stderr)")
        #expect(compare.stdout == result.stdout)
        let text = try ws.mixmae(["runs", "compare", "--sweep", "1"])
        #expect(text.stdout.contains("mask.mode") && text.stdout.contains("2.top1"), "\(text.stdout)")

        let again = try ws.mixmae(command)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("finished before, skipped"), "\(again.stderr)")
        #expect(try registry.runs().count == 4)
    }

    /// Ctrl-C stops the sweep at a step boundary: the running point's run is KILLED,
    /// nothing else starts, exit 130. The same command resumes that run (same id) and
    /// runs the rest.
    @Test func ctrlCStopsTheSweepAndTheSameCommandResumesIt() throws {
        let ws = try TrainingWorkspace(images: 80)
        try ws.pretrainRecipe(epochs: 30, batch: 16)
        let command = ["sweep", "pretrain.yaml"] + Self.quick + ["--grid", "seed=0,1"]
        let sweep = try ws.start(command)
        let registry = try ws.registry
        let started = waitUntil(timeout: 300) {
            (try? registry.metrics(ofRun: 1, named: "loss").count) ?? 0 >= 2
        }
        #expect(started, "\(sweep.standardErrorSoFar)")
        sweep.send(SIGINT)
        let stopped = try sweep.wait(timeout: 300)
        #expect(stopped.status == 130, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("run the same command again"), "\(stopped.stderr)")
        #expect(try registry.run(1)?.status == .killed)
        #expect(try registry.run(2) == nil)

        let resumed = try ws.mixmae(command)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming run 1"), "\(resumed.stderr)")
        #expect(try registry.run(1)?.status == .finished)
        #expect(try registry.run(1)?.attempt == 2)
        #expect(try registry.run(2)?.status == .finished)
        #expect(try registry.runs().count == 2)
    }

    /// A SIGKILL of the sweep process (which cannot forward it) still ends its children:
    /// each asked the kernel for a signal at its parent's death (one SIGTERM, however many
    /// times the kernel repeats it), so both running trainings stop within seconds, at a
    /// step boundary with a checkpoint (KILLED, not CRASHED), instead of training on as orphans.
    @Test func childrenDieWithASweepKilledBySIGKILL() throws {
        let ws = try TrainingWorkspace(images: 80)
        try ws.pretrainRecipe(epochs: 30, batch: 16)
        let sweep = try ws.start(["sweep", "pretrain.yaml"] + Self.quick + ["--grid", "seed=0,1", "--jobs", "2"])
        let registry = try ws.registry
        let started = waitUntil(timeout: 300) {
            (try? [RunID(1), RunID(2)].allSatisfy { try registry.metrics(ofRun: $0, named: "loss").count >= 1 })
                ?? false
        }
        #expect(started, "\(sweep.standardErrorSoFar)")
        let children = try [RunID(1), RunID(2)].map { try #require(try registry.run($0)).pid }
        #expect(children.allSatisfy { $0 > 0 && Self.isAlive($0) }, "\(children)")
        sweep.send(SIGKILL)
        let killed = try sweep.wait(timeout: 30)
        #expect(killed.signalled && killed.status == SIGKILL)
        let gone = waitUntil(timeout: 20) { children.allSatisfy { !Self.isAlive($0) } }
        #expect(gone, "sweep children \(children) outlived the sweep")
        for id in [RunID(1), RunID(2)] {
            let status = try registry.run(id)?.status
            #expect(status == .killed, "run \(id): \(String(describing: status))")
        }
    }

    /// Whether `pid` is a live process (not gone, not a zombie waiting for its reaper).
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        return state != "Z" && !stat.isEmpty
    }

    /// `mask.ratio` at both ends of its range, in both modes, as a 2x2 sweep: every
    /// run finishes with a finite loss, and the SimMIM-style loss with nothing
    /// masked is exactly 0 (SimMIM's average over masked patches).
    @Test func theMaskRatioEdgesTrainInBothModes() throws {
        let ws = try TrainingWorkspace(images: 48)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let result = try ws.mixmae(
            ["sweep", "pretrain.yaml"] + Self.quick + [
                "--grid", "mask.mode=mix,mask_token", "--grid", "mask.ratio=0,1", "--format", "json",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try #require(try json(result.stdout)["rows"] as? [[String: Any]])
        #expect(rows.count == 4)
        let registry = try ws.registry
        for member in try registry.members(ofSweep: 1) {
            #expect(member.run.status == .finished)
            let losses = try registry.metrics(ofRun: member.run.id, named: "loss").map(\.value)
            #expect(!losses.isEmpty && losses.allSatisfy(\.isFinite), "point \(member.point): \(losses)")
            if member.point == 3 {  // mask_token, ratio 0
                #expect(losses.allSatisfy { $0 == 0 }, "\(losses)")
            } else {
                #expect(losses.allSatisfy { $0 > 0 }, "point \(member.point): \(losses)")
            }
        }
    }

    /// A zipped axis runs its listed points only (here two of the four combinations of
    /// mode and ratio), times the other axes; the table has a column per key and groups
    /// the seeds of each listed point.
    @Test func aZippedAxisRunsOnlyItsListedPoints() throws {
        let ws = try TrainingWorkspace(images: 48)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let result = try ws.mixmae(
            ["sweep", "pretrain.yaml"] + Self.quick + [
                "--grid", "(mask.mode,mask.ratio)=(mix,0.5),(mask_token,0.25)", "--grid", "seed=0,1", "--format",
                "json",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let table = try json(result.stdout)
        #expect(table["keys"] as? [String] == ["mask.mode", "mask.ratio", "seed"])
        let rows = try #require(table["rows"] as? [[String: Any]])
        #expect(
            rows.map { $0["values"] as? [String] ?? [] } == [
                ["mix", "0.5", "0"], ["mix", "0.5", "1"], ["mask_token", "0.25", "0"], ["mask_token", "0.25", "1"],
            ])
        #expect(table["group_keys"] as? [String] == ["mask.mode", "mask.ratio"])
        let groups = try #require(table["groups"] as? [[String: Any]])
        #expect(groups.map { $0["points"] as? [Int] ?? [] } == [[1, 2], [3, 4]])
        let members = try ws.registry.members(ofSweep: 1)
        #expect(members.count == 4 && members.allSatisfy { $0.run.status == .finished })
        let text = try ws.mixmae(["runs", "compare", "--sweep", "1"])
        #expect(text.status == 0 && text.stdout.contains("mask.mode") && text.stdout.contains("mask.ratio"))
    }

    /// A backbone that does not declare the [MASK] token (the test plugin's toy backbone)
    /// is refused at `mask.mode` before any run is registered; with `mix` it pretrains.
    @Test func maskTokenIsRefusedAtTheKeyForABackboneWithoutIt() throws {
        let ws = try TrainingWorkspace(images: 48)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let libraries = ["MixSwin", "MixViTDecoder", "MixReconstruction", "TestPluginGood"].map {
            "  - " + TestPaths.buildDirectory.appendingPathComponent("lib\($0).so").path
        }
        _ = try ws.folder.write("plugins.yaml", "plugins:\n" + libraries.joined(separator: "\n") + "\n")
        let toy = [
            "--set", "model.backbone=!replace {name: toy-backbone, img_size: 64, patch_size: 16}", "--registry",
            "plugins.yaml",
        ]
        let refused = try ws.mixmae(["train", "pretrain.yaml", "--set", "mask.mode=mask_token"] + Self.quick + toy)
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("mask.mode") && refused.stderr.contains("'toy-backbone'"), "\(refused.stderr)")
        #expect(try ws.registry.runs().isEmpty)
        let mixed = try ws.mixmae(["train", "pretrain.yaml"] + Self.quick + toy)
        #expect(mixed.status == 0, "\(mixed.stderr)")
    }

    /// A mistake in a grid key or value stops the sweep before anything runs and
    /// names the point; usage mistakes exit 2.
    @Test func gridMistakesAreReportedBeforeAnythingRuns() throws {
        let ws = try TrainingWorkspace(images: 48)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let typo = try ws.mixmae(["sweep", "pretrain.yaml", "--grid", "mask.mdoe=mix,mask_token"])
        #expect(typo.status == 1, "\(typo.stderr)")
        #expect(typo.stderr.contains("sweep point 1 (mask.mdoe=mix)"), "\(typo.stderr)")
        #expect(typo.stderr.contains("mode"), "\(typo.stderr)")
        let value = try ws.mixmae(["sweep", "pretrain.yaml", "--grid", "mask.mode=mix,simmim"])
        #expect(value.status == 1, "\(value.stderr)")
        #expect(value.stderr.contains("sweep point 2 (mask.mode=simmim)") && value.stderr.contains("mask_token"))
        let attention = try ws.mixmae(["sweep", "pretrain.yaml", "--grid", "model.backbone.mix_attention=partial"])
        #expect(attention.status == 1 && attention.stderr.contains("full"), "\(attention.stderr)")
        #expect(try ws.mixmae(["sweep", "pretrain.yaml"]).status == 2)
        let arity = try ws.mixmae(["sweep", "pretrain.yaml", "--grid", "(mask.mode,seed)=(mix,0),(mask_token)"])
        #expect(arity.status == 2 && arity.stderr.contains("is not a tuple of 2 values"), "\(arity.stderr)")
        let twice = try ws.mixmae([
            "sweep", "pretrain.yaml", "--grid", "seed=0,1", "--grid", "(mask.mode,seed)=(mix,0),(mask_token,1)",
        ])
        #expect(twice.status == 2 && twice.stderr.contains("--grid seed is given twice"), "\(twice.stderr)")
        #expect(try ws.mixmae(["sweep", "pretrain.yaml", "--grid", "seed=0", "--then", "--set", "x=1"]).status == 2)
        #expect(!FileManager.default.fileExists(atPath: ws.folder.file("home/runs/1")))
    }
}
