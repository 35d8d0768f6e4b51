import Foundation
import MixKit
import MixmaeData
import MixmaeRuns
import MixmaeTasks
import TestSupport
import Testing

/// A workspace with a synthetic dataset, a registry home and recipes, driven
/// through the real `mixmae` binary.
final class TrainingWorkspace {
    let folder: TemporaryFolder
    let environment: [String: String]

    init(images: Int = 256) throws {
        folder = try TemporaryFolder("training")
        environment = [
            "MIXMAE_HOME": folder.file("home"),
            "MIXMAE_REGISTRY": TestPaths.packageRoot.appendingPathComponent("registry.yaml").path,
        ]
        let synth = try mixmae(["data", "synth", "--out", folder.file("data"), "--images", "\(images)", "--size", "64"])
        precondition(synth.status == 0, synth.stderr)
    }

    func mixmae(_ arguments: [String]) throws -> ProcessResult {
        try runMixmae(arguments, in: folder.path, environment: environment)
    }

    /// Starts `mixmae` in the workspace without waiting for it.
    func start(_ arguments: [String]) throws -> ChildProcess {
        try startMixmae(arguments, in: folder.path, environment: environment)
    }

    var registry: RunRegistry {
        get throws { try RunRegistry(home: URL(fileURLWithPath: folder.file("home"))) }
    }

    /// A small Swin shared by the recipes below.
    static let backbone =
        "{name: swin, img_size: 64, embed_dim: 16, depths: [1, 1, 2, 1], num_heads: [1, 2, 2, 4], window_size: [4, 4, 4, 2]}"

    @discardableResult
    func pretrainRecipe(epochs: Int = 2, batch: Int = 16, baseLR: String = "1.5e-3") throws -> String {
        try folder.write(
            "pretrain.yaml",
            """
            base: \(TestPaths.packageRoot.path)/recipes/base/pretrain.yaml
            data: {root: data/classification/train, img_size: 64, batch_size: \(batch), num_workers: 2}
            optim: {base_lr: \(baseLR)}
            schedule: {epochs: \(epochs), warmup_epochs: 1}
            log: {every: 2, pictures: 4}
            model:
              backbone: \(TrainingWorkspace.backbone)
              decoder: {name: vit-decoder, decoder_dim: 32, decoder_depth: 1, decoder_num_heads: 2}
            """)
    }

    @discardableResult
    func classifyRecipe(name: String, initWeights: String, epochs: Int = 1) throws -> String {
        try folder.write(
            name,
            """
            task: classify
            data: {root: data/classification/train, val_root: data/classification/val, img_size: 64, batch_size: 16, eval_crop: 1.0}
            optim: {base_lr: 1e-3, betas: [0.9, 0.999], layer_decay: 0.7}
            schedule: {epochs: \(epochs), warmup_epochs: 0.5}
            init: {weights: "\(initWeights)"}
            model:
              backbone: \(TrainingWorkspace.backbone)
              head: {name: linear-cls}
            """)
    }

    /// Every tensor of a checkpoint, by name.
    func weights(ofRun id: RunID) throws -> [String: [Float]] {
        let file = try SafeTensorsFile(path: folder.file("home/runs/\(id)/last.safetensors"))
        return try Dictionary(uniqueKeysWithValues: file.names.map { ($0, try file.tensor($0).scalars) })
    }
}

@Suite(.serialized) struct TrainingTests {
    @Test func pretrainingOnRealImagesLowersTheLoss() throws {
        let ws = try TrainingWorkspace(images: 320)
        try ws.pretrainRecipe(epochs: 8, batch: 32, baseLR: "1.0e-2")
        let result = try ws.mixmae(["train", "pretrain.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("run 1 (pretrain) finished"))
        let losses = try ws.registry.metrics(ofRun: 1, named: "val_loss").map(\.value)
        #expect(losses.count == 8)
        // Per-patch normalised pixels start near a loss of 1; the model learns real structure.
        #expect(losses.first! > 0.95)
        #expect(losses.last! < losses.first! - 0.05, "val_loss \(losses)")
        let picture = ws.folder.file("home/runs/1/pictures/reconstruction-epoch-0008.png")
        let image = try Image(contentsOfFile: picture)
        #expect(image.width == 3 * 64 + 8 && image.height == 4 * 64 + 10)
        #expect(try ws.registry.run(1)?.status == .finished)
    }

    /// A run records the GFLOPs of its step (what `mixmae flops` counts for its recipe)
    /// and its cumulative compute; `runs list --metrics` shows both; resuming exactly still holds
    /// (the count leaves the generators alone: see resumingGivesTheSameWeightsAsAnUninterruptedRun).
    @Test func aRunRecordsTheComputeMixmaeFlopsCounts() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let flops = try ws.mixmae(["flops", "pretrain.yaml", "--format", "json"])
        #expect(flops.status == 0, "\(flops.stderr)")
        let counted = try #require(
            try JSONSerialization.jsonObject(with: Data(flops.stdout.utf8)) as? [String: Any], "\(flops.stdout)")
        let perStep = try #require(counted["gflops_per_step"] as? Double)
        let forward = try #require(counted["forward_gflops_per_image"] as? Double)
        let encoder = try #require(counted["encoder_forward_gflops_per_image"] as? Double)
        let rest = try #require(counted["rest_forward_gflops_per_image"] as? Double)
        #expect(abs(encoder + rest - forward) < 1e-12 && encoder > rest && rest > 0)
        #expect(counted["batch"] as? Int == 16)

        #expect(try ws.mixmae(["train", "pretrain.yaml"]).status == 0)
        let recorded = try ws.registry.metrics(ofRun: 1, named: "gflops")
        #expect(recorded.map(\.step) == [0])
        #expect(abs(try #require(recorded.first).value - perStep) <= 1e-9 * perStep)
        // 64 images, a fifth of them for validation: 3 full batches of 16.
        let total = try ws.registry.metrics(ofRun: 1, named: "compute_tflops")
        #expect(total.count == 1 && abs(total[0].value - perStep * Double(total[0].step) / 1000) < 1e-9)
        #expect(total[0].step == 3, "\(total)")

        let listed = try ws.mixmae(["runs", "list", "--metrics", "gflops,compute_tflops", "--format", "json"])
        let runs = try #require(
            try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed.stdout)")
        let metrics = try #require(runs.first?["metrics"] as? [String: Any])
        // Within 1e-12, not bit for bit: Linux's JSONSerialization reads some doubles one ulp off
        // (0.0016102195199999998 comes back as ...988; JSONDecoder reads it exactly).
        let listedGflops = try #require(metrics["gflops"] as? Double)
        let listedTflops = try #require(metrics["compute_tflops"] as? Double)
        #expect(abs(listedGflops - recorded[0].value) <= 1e-12 * recorded[0].value)
        #expect(abs(listedTflops - total[0].value) <= 1e-12 * total[0].value)
    }

    @Test func valLossAndPicturesAreIndependent() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let lossOnly = try ws.mixmae([
            "train", "pretrain.yaml", "--set", "log.pictures=0", "--set", "log.val_images=10",
        ])
        #expect(lossOnly.status == 0, "\(lossOnly.stderr)")
        #expect(try ws.registry.metrics(ofRun: 1, named: "val_loss").count == 1)
        #expect(!FileManager.default.fileExists(atPath: ws.folder.file("home/runs/1/pictures")))

        let picturesOnly = try ws.mixmae(["train", "pretrain.yaml", "--set", "log.val_images=0"])
        #expect(picturesOnly.status == 0, "\(picturesOnly.stderr)")
        #expect(try ws.registry.metrics(ofRun: 2, named: "val_loss").isEmpty)
        #expect(
            FileManager.default.fileExists(atPath: ws.folder.file("home/runs/2/pictures/reconstruction-epoch-0001.png"))
        )
    }

    @Test func resumingGivesTheSameWeightsAsAnUninterruptedRun() throws {
        let ws = try TrainingWorkspace(images: 192)
        try ws.pretrainRecipe(epochs: 2, batch: 16)
        // 192 training images (80% of 240... the generator's split) give whole epochs of 16.
        // Drop path on: the model draws from its generator every step, so the resumed run
        // matches only if the checkpoint restored that generator's state.
        let dropPath = ["--set", "model.backbone.drop_path_rate=0.3"]
        let full = try ws.mixmae(["train", "pretrain.yaml"] + dropPath)
        #expect(full.status == 0, "\(full.stderr)")
        let steps = try ws.registry.metrics(ofRun: 1, named: "loss").map(\.step).max()!
        let stopAt = Int(steps) / 2 + 1  // inside the second epoch
        let stopped = try ws.mixmae(["train", "pretrain.yaml", "--stop-after-steps", "\(stopAt)"] + dropPath)
        #expect(stopped.status == 130)
        #expect(stopped.stderr.contains("continue with --resume"))
        #expect(try ws.registry.run(2)?.status == .killed)
        let resumed = try ws.mixmae(["train", "--resume", "2"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try ws.registry.run(2)?.status == .finished)
        #expect(try ws.registry.run(2)?.attempt == 2)
        let a = try ws.weights(ofRun: 1)
        let b = try ws.weights(ofRun: 2)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (name, values) in a { #expect(values == b[name], "\(name) differs after resume") }
    }

    @Test func finetuneLineageAcrossThreeGenerations() throws {
        let ws = try TrainingWorkspace(images: 192)
        try ws.pretrainRecipe(epochs: 1)
        #expect(try ws.mixmae(["train", "pretrain.yaml"]).status == 0)
        try ws.classifyRecipe(name: "cls1.yaml", initWeights: "run:1")
        let first = try ws.mixmae(["train", "cls1.yaml"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("initialised"))
        try ws.classifyRecipe(name: "cls2.yaml", initWeights: "run:2:best")
        #expect(try ws.mixmae(["train", "cls2.yaml"]).status == 0)
        let up = try ws.mixmae(["lineage", "run:3", "--up"])
        #expect(up.status == 0)
        for fragment in ["run 3  classify", "by run 2  classify", "by run 1  pretrain"] {
            #expect(up.stdout.contains(fragment), "\(up.stdout)")
        }
        let down = try ws.mixmae(["lineage", "run:1", "--down", "--format", "json"])
        #expect(down.stdout.contains("\"run\" : 3") || down.stdout.contains("\"id\" : 3"), "\(down.stdout)")
        // Top-1 was recorded each epoch.
        #expect(try ws.registry.metrics(ofRun: 2, named: "top1").count == 1)
    }

    @Test func interruptedRunIsKilledWithALoadableCheckpoint() throws {
        let ws = try TrainingWorkspace(images: 192)
        try ws.pretrainRecipe(epochs: 200)
        let process = try ws.start(["train", "pretrain.yaml"])
        // Wait for a first checkpoint, then interrupt.
        _ = waitUntil(timeout: 120) {
            FileManager.default.fileExists(atPath: ws.folder.file("home/runs/1/last.safetensors"))
        }
        process.send(SIGINT)
        try process.wait(timeout: 120)
        let run = try #require(try ws.registry.run(1))
        #expect(run.status == .killed)
        let checkpoint = try ws.registry.checkpoint(ofRun: 1, role: .checkpointLast)
        let file = try SafeTensorsFile(path: checkpoint.url.path)
        #expect(file.entries["patch_embed.proj.weight"]?.shape == [16, 3, 4, 4])
        #expect(FileManager.default.fileExists(atPath: Checkpoint.optimizerPath(for: checkpoint.url.path)))
    }

    /// A real SIGINT or SIGTERM to a training process: the step finishes, the run is saved and
    /// KILLED, the process exits with 128 + the signal, and `train --resume run:ID` finishes it.
    @Test func aSignalledTrainingExits130Or143AndResumes() throws {
        let ws = try TrainingWorkspace(images: 192)
        try ws.pretrainRecipe(epochs: 12, batch: 16)
        for (run, signal) in [(1, SIGINT), (2, SIGTERM)] {
            let process = try ws.start(["train", "pretrain.yaml"])
            let saved = waitUntil(timeout: 120) {
                FileManager.default.fileExists(atPath: ws.folder.file("home/runs/\(run)/last.safetensors"))
            }
            #expect(saved, "no checkpoint: \(process.standardErrorSoFar)")
            process.send(signal)
            let stopped = try process.wait(timeout: 120)
            #expect(!stopped.signalled && stopped.status == 128 + signal, "\(stopped.stderr)")
            #expect(stopped.stderr.contains("run \(run) stopped by SIG"), "\(stopped.stderr)")
            #expect(stopped.stderr.contains("mixmae train --resume run:\(run)"), "\(stopped.stderr)")
            let record = try #require(try ws.registry.run(RunID(run)))
            #expect(record.status == .killed)
            #expect(record.error == "stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM")")
        }
        let resumed = try ws.mixmae(["train", "--resume", "run:1"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try ws.registry.run(1)?.status == .finished && ws.registry.run(1)?.attempt == 2)
        let best = try ws.mixmae(["train", "--resume", "run:2:best"])
        #expect(best.status == 1 && best.stderr.contains("a run continues from its last checkpoint"), "\(best.stderr)")
        #expect(try ws.registry.run(2)?.status == .killed)
    }

    @Test func killedProcessShowsCrashed() throws {
        let ws = try TrainingWorkspace(images: 192)
        try ws.pretrainRecipe(epochs: 200)
        let process = try ws.start(["train", "pretrain.yaml"])
        _ = waitUntil(timeout: 120) { (try? ws.registry.run(1)) != nil }
        Thread.sleep(forTimeInterval: 0.5)
        process.send(SIGKILL)
        try process.wait(timeout: 120)
        let list = try ws.mixmae(["runs", "list"])
        #expect(list.stdout.contains("CRASHED"), "\(list.stdout)")
        #expect(try ws.registry.run(1)?.status == .crashed)
    }

    @Test func recipeMistakesAndBrokenImagesAreReported() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 15)
        let odd = try ws.mixmae(["train", "pretrain.yaml"])
        #expect(odd.status == 1)
        #expect(odd.stderr.contains("data.batch_size: MixMAE mixes image i with image B-1-i"), "\(odd.stderr)")
        // A mistake found before training starts leaves no run behind.
        #expect(try ws.registry.runs().isEmpty)
        // A file that is not an image is skipped with one warning, and counted.
        let garbage = ws.folder.file("data/classification/train/circle/000000-broken.png")
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: garbage))
        try ws.pretrainRecipe(epochs: 1, batch: 8)
        // 1 of 52 (2%) is more than the default data.max_unreadable (1%): the run fails with the list.
        let tooMany = try ws.mixmae(["train", "pretrain.yaml"])
        #expect(tooMany.status == 1, "\(tooMany.stderr)")
        #expect(tooMany.stderr.contains("more than data.max_unreadable allows (1%)"), "\(tooMany.stderr)")
        #expect(tooMany.stderr.contains("circle/000000-broken.png: not a PNG or JPEG file"), "\(tooMany.stderr)")
        #expect(try ws.registry.run(1)?.status == .failed)
        let skipped = try ws.mixmae(["train", "pretrain.yaml", "--set", "data.max_unreadable=0.05"])
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(
            skipped.stderr.contains("skipping unreadable image: data/classification/train/circle/000000-broken.png"),
            "\(skipped.stderr)")
        // Below the threshold the skipped files are listed in the run folder and counted in a tag.
        let list = try String(contentsOfFile: ws.folder.file("home/runs/2/unreadable.txt"), encoding: .utf8)
        #expect(list.hasPrefix("data/classification/train/circle/000000-broken.png\t"), "\(list)")
        #expect(try ws.registry.tags(ofRun: 2)["data.unreadable"] == "1")
        let strict = try ws.mixmae(["train", "pretrain.yaml", "--set", "data.skip_broken=false"])
        #expect(strict.status == 1)
        #expect(strict.stderr.contains("circle/000000-broken.png: not a PNG or JPEG file"))
        #expect(try ws.registry.run(3)?.status == .failed)
    }

    /// Issue 11: a run with 7 of its 8 images unreadable must not finish.
    @Test func sevenOfEightUnreadableImagesFailTheRun() throws {
        let ws = try TrainingWorkspace(images: 64)
        let root = ws.folder.file("small/circle")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let images = try FileManager.default.contentsOfDirectory(
            atPath: ws.folder.file("data/classification/train/circle")
        )
        .sorted()
        try FileManager.default.copyItem(
            atPath: ws.folder.file("data/classification/train/circle/\(images[0])"), toPath: root + "/good.png")
        for index in 1...7 {
            try Data("broken \(index)".utf8).write(to: URL(fileURLWithPath: root + "/bad\(index).png"))
        }
        try ws.pretrainRecipe(epochs: 1, batch: 2)
        let result = try ws.mixmae([
            "train", "pretrain.yaml", "--set", "data.root=small", "--set", "data.max_unreadable=0.5",
            "--set", "log.pictures=0", "--set", "log.val_images=0",
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("of the dataset's 8 images"), "\(result.stderr)")
        #expect(result.stderr.contains("more than data.max_unreadable allows (50%)"), "\(result.stderr)")
        #expect(result.stderr.contains("small/circle/bad"), "\(result.stderr)")
        #expect(try ws.registry.run(1)?.status == .failed)
    }
}
