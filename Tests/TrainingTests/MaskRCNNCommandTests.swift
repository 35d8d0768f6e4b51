import Foundation
import MixmaeData
import MixmaeEvaluation
import MixmaeRuns
import TestSupport
import Testing

/// Mask R-CNN end to end through the built binary: `train` on tiny synthetic
/// data records box and mask AP every epoch and writes both COCO results files;
/// `eval RECIPE --checkpoint` reproduces the last epoch's numbers.
@Suite(.serialized) struct MaskRCNNCommandTests {
    @discardableResult
    func recipe(in ws: TrainingWorkspace, epochs: Int) throws -> String {
        try ws.folder.write(
            "maskrcnn.yaml",
            """
            base: \(TestPaths.packageRoot.path)/recipes/quickstart/mask-rcnn.yaml
            data: {root: data/detection, batch_size: 8, num_workers: 2}
            detect: {val_ann: val.json, val_img: val/images}
            schedule: {epochs: \(epochs), warmup_epochs: 0.5}
            log: {every: 2}
            model:
              backbone: \(TrainingWorkspace.backbone)
              neck: {out_channels: 16}
              rpn: {feat_channels: 16}
              roi_box: {fc_out_channels: 32, num_samples: 64}
              roi_mask: {num_convs: 1, conv_out_channels: 8}
            """)
    }

    @Test func trainRecordsBoxAndMaskAPAndEvalReproducesThem() throws {
        let ws = try TrainingWorkspace(images: 48)
        try recipe(in: ws, epochs: 2)
        let train = try ws.mixmae(["train", "maskrcnn.yaml"])
        #expect(train.status == 0, "\(train.stderr)")
        let registry = try ws.registry
        var last: [String: Double] = [:]
        for name in ["AP", "AP50", "AR100", "mask_AP", "mask_AP50", "mask_AR100"] {
            let recorded = try registry.metrics(ofRun: 1, named: name)
            #expect(recorded.count == 2, "\(name): one value per epoch")
            last[name] = recorded.last?.value
        }
        for name in ["loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox", "loss_mask"] {
            #expect(try !registry.metrics(ofRun: 1, named: name).isEmpty, "\(name) is logged")
        }
        // Both results files, readable as COCO results, give the recorded numbers.
        let truth = try COCOInstances(contentsOfFile: ws.folder.file("data/detection/val.json"))
        let boxes = try COCODetection.load(contentsOfFile: ws.folder.file("home/runs/1/val_detections.json"))
        let masks = try COCODetection.load(contentsOfFile: ws.folder.file("home/runs/1/val_segmentations.json"))
        #expect(boxes.count == masks.count)
        #expect(masks.allSatisfy { $0.segmentation != nil })
        let boxAP = try COCOBoxEvaluator.evaluate(truth: truth, detections: boxes).ap
        let maskAP = try COCOBoxEvaluator.evaluate(truth: truth, detections: masks, iouType: .segm).ap
        #expect(abs(boxAP - last["AP"]!) < 1e-12)
        #expect(abs(maskAP - last["mask_AP"]!) < 1e-12)

        let eval = try ws.mixmae(["eval", "maskrcnn.yaml", "--checkpoint", "run:1", "--format", "json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        // The eval run (run 2) records exactly the numbers; its JSON prints them to about 16 digits.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [String: Any])
        let metrics = try #require(json["metrics"] as? [String: Double])
        for (name, value) in last {
            #expect(try registry.metrics(ofRun: 2, named: name).map(\.value) == [value], "\(name)")
            let printed = try #require(metrics[name])
            #expect(abs(printed - value) <= 1e-15 * max(1, abs(value)), "\(name): eval \(printed), train \(value)")
        }
    }

    /// `MIXMAE_PROFILE=1 mixmae train`: the table printed at exit is of the training steps (all
    /// but the first, the warm-up), not of the compute count the run starts with.
    @Test(arguments: ["pretrain", "mask-rcnn"]) func theProfileTableCountsTheTrainingSteps(task: String) throws {
        let ws = try TrainingWorkspace(images: 48)
        let recipe = task == "pretrain" ? try ws.pretrainRecipe(epochs: 1, batch: 8) : try recipe(in: ws, epochs: 1)
        let train = try runMixmae(
            ["train", recipe], in: ws.folder.path, environment: ws.environment.merging(["MIXMAE_PROFILE": "1"]) { $1 })
        #expect(train.status == 0, "\(train.stderr)")
        // The run's cumulative compute is recorded at its last step.
        let steps = try #require(try ws.registry.metrics(ofRun: 1, named: "compute_tflops").last?.step)
        let header = try #require(
            train.stderr.split(separator: "\n").first { $0.hasPrefix("MixKit profile: ") }, "\(train.stderr)")
        #expect(header.hasPrefix("MixKit profile: \(steps - 1) step(s)"), "\(header); the run took \(steps) steps")
        #expect(steps >= 3)
        if task == "mask-rcnn" { #expect(train.stderr.contains("roi_targets"), "\(train.stderr)") }
    }
}
