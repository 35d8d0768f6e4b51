import Foundation
import MixKit
import MixmaeData
import MixmaeEvaluation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks
import TestSupport
import Testing

/// A synthetic dataset and the plugin catalog, for building dense tasks in this process.
final class DenseWorkspace {
    let folder: TemporaryFolder
    let catalog: PluginCatalog

    init(images: Int = 80, classes: Int = 3) throws {
        folder = try TemporaryFolder("dense-tasks")
        var options = SyntheticDatasetOptions()
        options.imageCount = images
        options.imageSize = 64
        options.classCount = classes
        options.seed = 7
        try SyntheticDatasetGenerator(options: options, workers: 2).generate(into: folder.file("data"))
        catalog = try PluginCatalog.shared(registry: TestPaths.packageRoot.appendingPathComponent("registry.yaml").path)
    }

    /// A builder for one model, whose generator starts at `seed`.
    func builder(seed: UInt64 = 0) -> ComponentBuilder {
        ComponentBuilder(provider: catalog, rng: RandomSource(seed: seed))
    }

    func recipe(_ text: String, overrides: [String]) throws -> TaskRecipe {
        let resolved = try RecipeLoader().load(
            text: text, as: folder.file("recipe.yaml"), overrides: try RecipeOverride.parse(overrides))
        return try TaskRecipe(resolved, components: catalog.componentCatalog)
    }

    static let backbone =
        "{name: swin, img_size: 64, embed_dim: 16, depths: [1, 1, 1, 1], num_heads: [1, 2, 2, 4], window_size: [4, 4, 4, 2], out_indices: [0, 1, 2, 3]}"

    /// A small detection recipe on the shipped base; `val` names the split evaluated.
    func detectRecipe(epochs: Int = 1, val: String = "val", _ overrides: String...) throws -> TaskRecipe {
        try recipe(
            """
            base: \(TestPaths.packageRoot.path)/recipes/base/detect.yaml
            data: {root: \(folder.file("data/detection")), img_size: 64, batch_size: 8, num_workers: 1}
            detect: {train_ann: train.json, train_img: train/images, val_ann: \(val).json, val_img: \(val)/images,
                     short_sides: [64], max_size: 64, test_short_side: 64}
            optim: {base_lr: 3.2e-2}
            schedule: {epochs: \(epochs), warmup_epochs: 0.2, kind: cosine}
            checkpoint: {every: 0}
            log: {every: 4}
            model:
              backbone: \(Self.backbone)
              neck: {out_channels: 32, start_level: 0}
              head: {feat_channels: 32, stacked_convs: 1, num_groups: 8, regress_ranges: [32, 64, 128, 256]}
            """, overrides: overrides)
    }

    /// A small segmentation recipe on the shipped base; `val` names the split evaluated.
    func segmentRecipe(epochs: Int = 1, val: String = "validation", _ overrides: String...) throws -> TaskRecipe {
        try recipe(
            """
            base: \(TestPaths.packageRoot.path)/recipes/base/segment.yaml
            data: {root: \(folder.file("data/segmentation")), img_size: 64, batch_size: 8, num_workers: 1}
            segment: {num_classes: 4, reduce_zero_label: false, scale: [64, 64], mode: whole,
                      val_img_dir: images/\(val), val_ann_dir: annotations/\(val)}
            optim: {base_lr: 3.2e-2, weight_decay: 0.05}
            schedule: {epochs: \(epochs), warmup_epochs: 0.2}
            checkpoint: {every: 0}
            log: {every: 4}
            model:
              backbone: \(Self.backbone)
              head: {channels: 32, num_groups: 8, aux_channels: 16}
            """, overrides: overrides)
    }
}

/// Keeps the metrics a training loop records, in order.
final class MetricLog: TrainingObserver {
    var records: [(step: Int, metrics: [String: Double])] = []

    func record(metrics: [String: Double], step: Int) { records.append((step, metrics)) }
    func checkpointWritten(path: String, role: String, epoch: Int, step: Int) {}
    func heartbeat() {}

    func values(_ name: String) -> [Double] { records.compactMap { $0.metrics[name] } }
}

@Suite(.serialized) struct DenseTaskTests {
    @Test func detectionFinetuneLearnsAndWritesCOCOResults() throws {
        let ws = try DenseWorkspace()
        // Evaluated on the training split: the test is that the task fits what it sees.
        let recipe = try ws.detectRecipe(epochs: 10, val: "train")
        let builder = ws.builder(seed: recipe.seed)
        let run = ws.folder.file("run")
        let (task, data, report) = try DetectSetup.make(
            recipe: recipe, builder: builder, initialWeights: nil, runDirectory: run)
        #expect(report == nil)
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        task.model.train(false)
        let untrained = try #require(try task.evaluate(epoch: 0))
        #expect(Set(untrained.keys) == Set(COCOBoxMetrics.keys))

        let loop = TrainingLoop(
            task: task, data: data, settings: recipe.optimization, checkpointDirectory: run, modelRandom: builder.rng)
        let summary = try loop.run()
        let trained = summary.finalMetrics
        let before = try #require(untrained["AP"])
        let after = try #require(trained["AP"])
        #expect(after > before + 0.01, "AP \(before) -> \(after)")
        let ap50 = (try #require(untrained["AP50"]), try #require(trained["AP50"]))
        #expect(ap50.1 > ap50.0 + 0.04, "AP50 \(ap50.0) -> \(ap50.1)")
        #expect(summary.bestCheckpoint != nil)

        // The detections file is COCO results for the evaluated images, in their pixels.
        let truth = try COCOInstances(contentsOfFile: ws.folder.file("data/detection/train.json"))
        let detections = try COCODetection.load(contentsOfFile: task.detectionsPath)
        #expect(!detections.isEmpty)
        let images = Set(truth.images.map(\.id))
        let categories = Set(truth.categories.map(\.id))
        for d in detections {
            #expect(images.contains(d.imageID) && categories.contains(d.categoryID))
            #expect(d.box.x >= -1e-6 && d.box.y >= -1e-6 && d.box.x + d.box.width <= 64 + 1e-6)
            #expect(d.box.y + d.box.height <= 64 + 1e-6 && d.score > 0.05 && d.score <= 1)
        }
        let again = try COCOBoxEvaluator.evaluate(truth: truth, detections: detections)
        #expect(abs(again.ap - after) < 1e-9)

        // `mixmae eval RECIPE --checkpoint` on the last checkpoint gives the numbers the run recorded.
        let evaluator = try #require(recipe.task.checkpointEvaluator)
        let prepared = try evaluator.prepare(
            recipe: recipe, checkpoint: URL(fileURLWithPath: summary.lastCheckpoint), builder: ws.builder(),
            log: { _ in }
        )
        let evaluated = try prepared.run()
        #expect(evaluated.metrics.map(\.name) == COCOBoxMetrics.keys)
        for metric in evaluated.metrics { #expect(abs(metric.value - trained[metric.name]!) < 1e-9, "\(metric.name)") }

        // Checkpoint names: backbone at the root, then neck. and bbox_head.
        let names = Set(try SafeTensorsFile(path: summary.lastCheckpoint).names)
        for name in [
            "patch_embed.proj.weight", "out_norms.0.weight", "neck.lateral_convs.0.conv.weight",
            "bbox_head.cls_convs.0.gn.weight", "bbox_head.conv_centerness.bias", "bbox_head.scales.4.scale",
        ] {
            #expect(names.contains(name), "\(name)")
        }
    }

    @Test func segmentationFinetuneLearns() throws {
        let ws = try DenseWorkspace()
        let recipe = try ws.segmentRecipe(epochs: 10, val: "training")
        let builder = ws.builder(seed: recipe.seed)
        let run = ws.folder.file("run")
        let (task, data, _) = try SegmentSetup.make(recipe: recipe, builder: builder, initialWeights: nil)
        task.model.train(false)
        let untrained = try #require(try task.evaluate(epoch: 0))
        let loop = TrainingLoop(
            task: task, data: data, settings: recipe.optimization, checkpointDirectory: run, modelRandom: builder.rng)
        let log = MetricLog()
        loop.observer = log
        let summary = try loop.run()
        let losses = log.values("loss")
        #expect(losses.count >= 10 && losses.suffix(3).max()! < losses[0] - 0.3, "losses \(losses)")
        let before = try #require(untrained["mIoU"])
        let after = try #require(summary.finalMetrics["mIoU"])
        #expect(after > before + 0.02, "mIoU \(before) -> \(after)")
        let accuracy = try #require(summary.finalMetrics["aAcc"])
        #expect(accuracy > 0.5)
        #expect(summary.finalMetrics["aux_loss_ce"] != nil)
        let evaluated = try #require(recipe.task.checkpointEvaluator).prepare(
            recipe: recipe, checkpoint: URL(fileURLWithPath: summary.lastCheckpoint), builder: ws.builder(),
            log: { _ in }
        ).run()
        #expect(evaluated.metrics.map(\.name) == ["mIoU", "aAcc"] && evaluated.images == 64)
        #expect(abs(evaluated.metrics[0].value - after) < 1e-9 && abs(evaluated.metrics[1].value - accuracy) < 1e-9)
        let names = Set(try SafeTensorsFile(path: summary.lastCheckpoint).names)
        #expect(names.contains("decode_head.fpn_bottleneck.conv.weight"))
        #expect(names.contains("decode_head.auxiliary_head.conv_seg.weight"))
        #expect(names.contains("layers.3.blocks.0.mlp.fc1.weight"))
    }

    @Test func slidingWindowsCoverLargerImages() throws {
        let ws = try DenseWorkspace(images: 40)
        // Validation images resized to 96x96 on a 64x64 input: windows at 0 and 32 per axis.
        let slide = try ws.segmentRecipe("segment.scale=[96, 96]", "segment.mode=slide", "segment.stride=32")
        let (task, _, _) = try SegmentSetup.make(recipe: slide, builder: ws.builder(), initialWeights: nil)
        task.model.train(false)
        let metrics = try #require(try task.evaluate(epoch: 0))
        let (miou, accuracy) = (try #require(metrics["mIoU"]), try #require(metrics["aAcc"]))
        #expect((0...1).contains(miou) && (0...1).contains(accuracy))

        // The whole 96x96 image at once: the backbone takes any size.
        let whole = try ws.segmentRecipe("segment.scale=[96, 96]")
        let (wholeTask, _, _) = try SegmentSetup.make(recipe: whole, builder: ws.builder(), initialWeights: nil)
        wholeTask.model.train(false)
        let wholeMetrics = try #require(try wholeTask.evaluate(epoch: 0))
        #expect((0...1).contains(try #require(wholeMetrics["mIoU"])))

        // When the image is the input's size, one window is the whole image (two models from one seed).
        let (a, _, _) = try SegmentSetup.make(
            recipe: try ws.segmentRecipe("segment.mode=slide", "segment.stride=16"), builder: ws.builder(),
            initialWeights: nil)
        let (b, _, _) = try SegmentSetup.make(
            recipe: try ws.segmentRecipe(), builder: ws.builder(), initialWeights: nil)
        a.model.train(false)
        b.model.train(false)
        #expect(try a.evaluate(epoch: 0) == b.evaluate(epoch: 0))
    }

    @Test func backboneStartsFromTheCheckpointAndTheRestDoesNot() throws {
        let ws = try DenseWorkspace(images: 40)
        let recipe = try ws.detectRecipe()
        let source = try DetectSetup.buildModel(recipe: recipe, builder: ws.builder(seed: 11), classes: 3)
        var saved = source.backbone.stateDict()
        saved["decoder_embed.weight"] = Tensor.ones([4, 4])  // a pretraining checkpoint's decoder: ignored
        let file = ws.folder.file("pretrained.safetensors")
        try SafeTensors.write(saved, to: file)

        let (task, _, report) = try DetectSetup.make(
            recipe: recipe, builder: ws.builder(), initialWeights: file, runDirectory: ws.folder.file("run"))
        let loaded = try #require(report)
        #expect(loaded.loaded == source.backbone.namedTensors().count && loaded.ignored == 1)
        let own = task.detector.stateDict()
        for (name, tensor) in source.backbone.stateDict() {
            #expect(own[name]?.scalars == tensor.scalars, "\(name)")
        }
        let neck = try #require(own["neck.lateral_convs.0.conv.weight"])
        #expect(neck.scalars != source.neck!.stateDict()["lateral_convs.0.conv.weight"]!.scalars)
    }

    @Test func mistakesAreExplained() throws {
        let ws = try DenseWorkspace(images: 40)
        #expect {
            _ = try SegmentSetup.make(
                recipe: try ws.segmentRecipe("segment.ignore_index=2"), builder: ws.builder(),
                initialWeights: nil)
        } throws: { "\($0)".contains("segment.ignore_index") }
        // Label maps hold background + 3 shapes (0...3): two classes are too few.
        let (task, data, _) = try SegmentSetup.make(
            recipe: try ws.segmentRecipe("segment.num_classes=2"), builder: ws.builder(),
            initialWeights: nil)
        let batch = try #require(try data.batches(epoch: 0, skip: 0).next())
        #expect {
            _ = try task.loss(for: batch)
        } throws: {
            // The message names the one label map at fault, the value and the class count.
            "\($0)".contains("segment.num_classes is 2") && "\($0)".contains("outside 0..<2")
                && "\($0)".range(of: #"annotations/\S+\.png: holds label [0-9]+"#, options: .regularExpression) != nil
        }
        // A classification batch is not a detection batch.
        let (detect, _, _) = try DetectSetup.make(
            recipe: try ws.detectRecipe(), builder: ws.builder(), initialWeights: nil,
            runDirectory: ws.folder.file("run"))
        #expect {
            _ = try detect.loss(for: Batch(images: Tensor.zeros([1, 3, 64, 64]), labels: [0]))
        } throws: { "\($0)".contains("DetectionBatchLoader") }
    }
}
