import Foundation
import MixKit
import MixmaeEvaluation
import MixmaePluginHost

/// COCO box AP of a finetuned detector on `detect.val_ann`, with the resizing and
/// inference settings the finetune evaluated with, so the numbers are the ones it
/// recorded for the same weights.
public struct DetectionCheckpointEvaluator: CheckpointEvaluator {
    public init() {}

    public func prepare(
        recipe: TaskRecipe, checkpoint: URL, builder: ComponentBuilder, log: @escaping (String) -> Void
    ) throws -> PreparedEvaluation {
        guard let validation = try DetectSetup.validationSet(recipe: recipe) else {
            throw recipe.issue(
                at: "detect.val_ann",
                "evaluation needs a validation split: set detect.val_ann to a COCO instances file (and detect.val_img)")
        }
        let model = try DetectSetup.buildModel(
            recipe: recipe, builder: builder, classes: validation.dataset.classCount)
        try load(checkpoint, into: model, log: log)
        let settings = DetectSetup.settings(recipe)
        let count = validation.dataset.items.count
        return PreparedEvaluation(
            summary:
                "\(count) images of \(validation.dataset.annotationFile) (\(validation.dataset.classCount) classes)"
        ) {
            let result = try DetectionEvaluation.run(model, on: validation, settings: settings)
            return CheckpointEvaluation(
                metrics: zip(COCOBoxMetrics.keys, result.metrics.values).map { .init(name: $0, label: $0, value: $1) },
                images: count, split: validation.dataset.annotationFile)
        }
    }
}

/// mIoU and aAcc of a finetuned segmentor on `segment.val_img_dir`, as the finetune evaluated.
public struct SegmentationCheckpointEvaluator: CheckpointEvaluator {
    public init() {}

    public func prepare(
        recipe: TaskRecipe, checkpoint: URL, builder: ComponentBuilder, log: @escaping (String) -> Void
    ) throws -> PreparedEvaluation {
        guard let validation = try SegmentSetup.validationSet(recipe: recipe) else {
            throw recipe.issue(
                at: "segment.val_img_dir",
                "evaluation needs a validation split: set segment.val_img_dir and segment.val_ann_dir")
        }
        let segment = recipe.section("segment")
        let classes = segment.int("num_classes")
        let model = try SegmentSetup.buildModel(recipe: recipe, builder: builder, classes: classes)
        try load(checkpoint, into: model, log: log)
        let inference = SegmentSetup.inference(recipe)
        let count = validation.dataset.pairs.count
        return PreparedEvaluation(
            summary: "\(count) images of \(validation.dataset.imageDirectory) (\(classes) classes)"
        ) {
            let metrics = try SegmentationEvaluation.run(
                model, on: validation, classes: classes, ignoreIndex: segment.int("ignore_index"),
                inference: inference)
            return CheckpointEvaluation(
                metrics: [
                    .init(SemanticSegmentation.meanIoU, value: metrics.meanIoU),
                    .init(SemanticSegmentation.pixelAccuracy, value: metrics.pixelAccuracy),
                ], images: count, split: validation.dataset.imageDirectory)
        }
    }
}

/// Loads every tensor of a finetune checkpoint into `model` and puts it in evaluation mode.
/// Tables at another window or resolution are resized (``WeightConversion``) and logged.
private func load(_ checkpoint: URL, into model: Module, log: (String) -> Void) throws {
    let (stored, _) = try Checkpoint.loadWeights(checkpoint.path)
    let (weights, conversions) = WeightConversion.fit(stored, to: model)
    conversions.forEach { log("converted \($0)") }
    do {
        try model.load(stateDict: weights, strict: true)
    } catch let error as StateDictError {
        throw CheckpointEvaluationError.doesNotFit(path: checkpoint.path, detail: error.description)
    }
    model.train(false)
}
