import Foundation
import MixKit
import MixmaeData
import MixmaeEvaluation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks
import TestSupport
import Testing

extension DenseWorkspace {
    /// A small Mask R-CNN recipe on the shipped base.
    func maskRCNNRecipe(
        epochs: Int = 1, val: String = "val", catalog: ComponentCatalog? = nil,
        overrides: [String] = []
    ) throws -> TaskRecipe {
        let text = """
            base: \(TestPaths.packageRoot.path)/recipes/base/mask-rcnn.yaml
            data: {root: \(folder.file("data/detection")), img_size: 64, batch_size: 8, num_workers: 1}
            detect: {train_ann: train.json, train_img: train/images, val_ann: \(val).json, val_img: \(val)/images,
                     short_sides: [64], max_size: 64, test_short_side: 64}
            optim: {base_lr: 1.6e-2}
            schedule: {epochs: \(epochs), warmup_epochs: 0.2, kind: cosine}
            checkpoint: {every: 0}
            log: {every: 4, pictures: 3}
            model:
              backbone: \(Self.backbone)
              neck: {out_channels: 16}
              rpn: {feat_channels: 16, anchor_scales: [4], train_nms_pre: 300, train_max_per_img: 100,
                    test_nms_pre: 300, test_max_per_img: 100}
              roi_box: {fc_out_channels: 32, num_samples: 64}
            """
        let resolved = try RecipeLoader().load(
            text: text, as: folder.file("recipe.yaml"), overrides: try RecipeOverride.parse(overrides))
        return try TaskRecipe(resolved, components: catalog ?? self.catalog.componentCatalog)
    }
}

/// A third-party mask head: one learned logit for every pixel of every mask
/// (so its masks are its detections' boxes while the logit is positive),
/// trained by BCE against the same cropped targets as `roi-mask`.
final class ConstantMaskHead: Module, RoIMaskHead {
    let logit = Tensor([1]).asParameter()
    var maskSize: Int { 8 }

    static let descriptor = ComponentDescriptor(
        id: "constant-mask", kind: .roiHead, version: "0.1.0", license: "MIT", summary: "a test's mask head",
        parameters: [], build: { _, _ in ConstantMaskHead() },
        probe: { module, _, _ in (module as! ConstantMaskHead).logit })

    func loss(_ features: [FeatureMap], samples: [SamplingResult], masks: [InstanceMasks]) -> HeadLoss {
        var wanted: [Float] = []
        for (sample, masks) in zip(samples, masks) where !sample.positiveIndices.isEmpty {
            wanted +=
                masks.cropAndResize(
                    indices: sample.positiveTruthIndices, boxes: sample.positivePriors, size: maskSize
                ).scalars
        }
        guard !wanted.isEmpty else { return HeadLoss(total: Tensor(scalar: 0), terms: ["loss_mask": 0]) }
        let logits = logit.expanded(to: [wanted.count])
        let loss = binaryCrossEntropyWithLogits(logits, targets: Tensor(wanted)).mean()
        return HeadLoss(total: loss, terms: ["loss_mask": Double(loss.item())])
    }

    func predict(_ features: [FeatureMap], detections: [[Detection]]) -> [[[Float]]] {
        let p = 1 / (1 + expf(-logit.item()))
        return detections.map { $0.map { _ in [Float](repeating: p, count: maskSize * maskSize) } }
    }
}

/// The plugin catalog plus one component registered under a second id.
struct CatalogWithExtra: ComponentProvider {
    let catalog: PluginCatalog
    let extra: ComponentDescriptor

    func descriptor(_ id: String, kind: ComponentKind) throws -> ComponentDescriptor {
        if id == extra.id && kind == extra.kind { return extra }
        return try catalog.descriptor(id, kind: kind)
    }

    var componentCatalog: ComponentCatalog {
        ComponentCatalog(descriptors: catalog.components.map(\.descriptor) + [extra])
    }
}

@Suite(.serialized) struct MaskRCNNTaskTests {
    @Test func theRecipeComposesMaskRCNNFromItsPluginsWithMMDetectionsNames() throws {
        let ws = try DenseWorkspace(images: 24)
        let recipe = try ws.maskRCNNRecipe()
        let model = try DetectSetup.buildModel(recipe: recipe, builder: ws.builder(), classes: 3)
        let twoStage = try #require(model as? TwoStageDetectorModel)
        #expect(twoStage.predictsMasks)
        let names = Dictionary(uniqueKeysWithValues: twoStage.namedParameters().map { ($0.0, $0.1.shape) })
        #expect(names["patch_embed.proj.weight"] != nil, "the backbone at the root")
        #expect(names["neck.fpn_convs.0.conv.weight"] == [16, 16, 3, 3])
        #expect(names["rpn_head.rpn_cls.weight"] == [3, 16, 1, 1])
        #expect(names["rpn_head.rpn_reg.weight"] == [12, 16, 1, 1])
        #expect(names["roi_head.bbox_head.shared_fcs.0.weight"] == [32, 16 * 7 * 7])
        #expect(names["roi_head.bbox_head.fc_cls.weight"] == [4, 32])
        #expect(names["roi_head.bbox_head.fc_reg.weight"] == [12, 32])
        #expect(names["roi_head.mask_head.convs.3.conv.weight"] == [256, 256, 3, 3])
        #expect(names["roi_head.mask_head.upsample.weight"] == [256, 256, 2, 2])
        #expect(names["roi_head.mask_head.conv_logits.weight"] == [3, 256, 1, 1])

        // A dense head beside the two-stage slots is refused at model.head.
        let both = try ws.maskRCNNRecipe(overrides: ["model.head={name: fcos}"])
        let error = try #require(
            thrownError { _ = try DetectSetup.buildModel(recipe: both, builder: ws.builder(), classes: 3) })
        #expect("\(error)".contains("model.head"), "\(error)")
    }

    /// An RoI head that asks for more levels than the neck emits is refused at its key path
    /// (RoIExtractor's checking initializer), the box head and the mask head alike.
    @Test(arguments: ["roi_box", "roi_mask"]) func tooManyRoILevelsAreRefusedAtTheirKeyPath(slot: String) throws {
        let ws = try DenseWorkspace(images: 24)
        let error = try #require(
            thrownError {
                let recipe = try ws.maskRCNNRecipe(overrides: ["model.\(slot).num_levels=6"])
                _ = try DetectSetup.buildModel(recipe: recipe, builder: ws.builder(), classes: 3)
            })
        #expect("\(error)".contains("model.\(slot).num_levels"), "\(error)")
        #expect("\(error)".contains("6 levels but the neck emits 5 maps"), "\(error)")
    }

    @Test func trainingMovesMasksThroughTheLoaderAndEvaluationWritesBothResults() throws {
        let ws = try DenseWorkspace(images: 32)
        let recipe = try ws.maskRCNNRecipe(val: "val")
        let builder = ws.builder(seed: recipe.seed)
        let run = ws.folder.file("run")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let (task, data, _) = try DetectSetup.make(
            recipe: recipe, builder: builder, initialWeights: nil, runDirectory: run)
        task.attach(runDirectory: run)  // as a registered run: pictures go to run/pictures
        // The loader carries one mask per box at the padded size, inside its box.
        let batch = try #require(try data.detectionBatches(epoch: 0, skip: 0).next())
        for target in batch.targets {
            let masks = try #require(target.masks)
            #expect(masks.count == target.boxes.count)
            #expect(masks.height == target.geometry.paddedHeight && masks.width == target.geometry.paddedWidth)
            for (k, box) in target.boxes.enumerated() {
                let on = masks.bitmap(k).enumerated().filter { $0.element != 0 }.map(\.offset)
                #expect(!on.isEmpty)
                for i in on {
                    let (x, y) = (Double(i % masks.width) + 0.5, Double(i / masks.width) + 0.5)
                    #expect(x >= box.x1 - 1 && x <= box.x2 + 1 && y >= box.y1 - 1 && y <= box.y2 + 1)
                }
            }
        }
        let loop = TrainingLoop(
            task: task, data: data, settings: recipe.optimization, checkpointDirectory: run, modelRandom: builder.rng)
        let log = MetricLog()
        loop.observer = log
        let summary = try loop.run()
        for name in ["loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask"] {
            #expect(!log.values(name).isEmpty && log.values(name).allSatisfy(\.isFinite), "\(name)")
        }
        let metrics = summary.finalMetrics
        for key in COCOBoxMetrics.keys { #expect(metrics[key] != nil && metrics["mask_" + key] != nil, "\(key)") }
        let masks = try COCODetection.load(contentsOfFile: task.segmentationsPath)
        #expect(masks.allSatisfy { $0.segmentation != nil })
        let pictures = try FileManager.default.contentsOfDirectory(atPath: run + "/pictures")
        #expect(pictures == [DetectionPicture.kind + "-epoch-0001.png"])
    }

    @Test func detectionPicturesTintMasksUnderTheirBoxes() throws {
        let grey = try Image(width: 40, height: 30, channels: 3, filledWith: 100)
        // A 10x8 rectangle at (12, 9) as a COCO polygon, its box 2 px larger on each side.
        let square = COCOSegmentation.polygons([[12, 9, 22, 9, 22, 17, 12, 17]])
        let masked = PictureBox(x1: 10, y1: 7, x2: 24, y2: 19, label: 1, score: 0.9, mask: square)
        var bare = masked
        bare.mask = nil
        let row = try DetectionPicture.row(image: grey, truth: [masked], predicted: [bare], classNames: ["a", "b"])
        let (truth, predicted) = (try PictureCanvas(row[0]), try PictureCanvas(row[1]))
        var expected = try PictureCanvas(grey)
        expected.blend(x: 16, y: 12, ClassPalette.colour(of: 1), alpha: DetectionPicture.maskOpacity)
        // Inside the mask: tinted in the class colour; between mask and box outline, and without a mask: grey.
        #expect(truth.colour(x: 16, y: 12) == expected.colour(x: 16, y: 12))
        #expect(truth.colour(x: 16, y: 12) != RGB(100, 100, 100))
        #expect(truth.colour(x: 11, y: 15) == RGB(100, 100, 100))
        #expect(predicted.colour(x: 16, y: 12) == RGB(100, 100, 100))
    }

    @Test func aThirdPartyMaskHeadReplacesRoIMask() throws {
        let ws = try DenseWorkspace(images: 24)
        let provider = CatalogWithExtra(catalog: ws.catalog, extra: ConstantMaskHead.descriptor)
        // The base's roi-mask keys go with it: the slot is emptied, then filled with the other plugin.
        let recipe = try ws.maskRCNNRecipe(
            val: "train", catalog: provider.componentCatalog,
            overrides: ["model.roi_mask=!delete", "model.roi_mask={name: constant-mask}"])
        let builder = ComponentBuilder(provider: provider, rng: RandomSource(seed: 0))
        let run = ws.folder.file("run")
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let (task, data, _) = try DetectSetup.make(
            recipe: recipe, builder: builder, initialWeights: nil, runDirectory: run)
        let model = try #require(task.detector as? TwoStageDetectorModel)
        #expect(model.maskHead is ConstantMaskHead)
        #expect(model.stateDict()["roi_head.mask_head.logit"]?.scalars == [1])
        let batch = try #require(try data.batches(epoch: 0, skip: 0).next())
        let (loss, logs) = try task.loss(for: batch)
        #expect(loss.item().isFinite && logs["loss_mask"] != nil)
        loss.backward()
        #expect(model.maskHead.map { ($0 as! ConstantMaskHead).logit.grad != nil } == true)
        task.model.train(false)
        let metrics = try #require(try task.evaluate(epoch: 0))
        #expect(metrics["mask_AP"] != nil)
        // Its masks are its boxes: a constant probability above 0.5 pasted into the box (bilinear,
        // zero outside the 8x8 grid) fills it but for edge pixels whose interpolation with the zero
        // border falls below 0.5.
        var checked = 0
        for detection in try COCODetection.load(contentsOfFile: task.segmentationsPath) {
            let mask = try #require(detection.segmentation).runLengthMask(height: 0, width: 0)
            let (box, area) = (mask.boundingBox, Double(mask.area))
            guard detection.box.width >= 4 && detection.box.height >= 4 else { continue }
            checked += 1
            #expect(area >= 0.5 * detection.box.width * detection.box.height, "\(area) px in \(detection.box)")
            #expect(box.x >= detection.box.x - 1.5 && box.x + box.width <= detection.box.x + detection.box.width + 1.5)
            #expect(
                box.y >= detection.box.y - 1.5 && box.y + box.height <= detection.box.y + detection.box.height + 1.5)
        }
        #expect(checked > 0)
    }
}
