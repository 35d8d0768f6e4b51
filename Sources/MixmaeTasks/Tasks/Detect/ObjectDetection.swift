import MixKit
import MixmaeEvaluation
import MixmaePluginHost
import MixmaeRecipes

/// `task: detect`: object detection finetuning of a backbone, an optional neck and a dense
/// detection head on COCO-format data (``DetectSetup``, ``DetectTask``); it reads `init` and
/// `detect`, measures COCO box AP on the validation split and keeps the checkpoint with the
/// best AP.
public struct ObjectDetection: TaskKind {
    public init() {}

    public var name: String { "detect" }
    public var summary: String { "object detection finetuning" }
    public var sections: [RecipeSchema.Entry] {
        [
            TaskSections.initialization,
            .section("detect", Self.detectSection, doc: "Detection data layout, resizing and inference (task detect)."),
        ]
    }
    public var validationMetrics: [TaskMetric] { COCOBoxMetrics.keys.map { TaskMetric(name: $0) } }
    public var selectionMetric: TaskMetric? { validationMetrics.first }
    public var checkpointEvaluator: (any CheckpointEvaluator)? { DetectionCheckpointEvaluator() }

    public func makeTraining(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> PreparedTraining
    {
        let (task, data, report) = try DetectSetup.make(
            recipe: recipe, builder: builder, initialWeights: initialWeights, runDirectory: "")
        return PreparedTraining(task: task, data: data, initialWeights: report)
    }

    /// Task `detect`: a COCO instances file and an image folder per split, relative
    /// to `data.root` (mmdetection's `ann_file` and `data_prefix`), resizing as
    /// mmdet's `Resize(keep_ratio=True)` and the inference settings of its `test_cfg`.
    /// Images are resized, padded to a multiple of 32 and batched padded to the
    /// largest; the backbone takes them at that size (it must take any size).
    public static let detectSection: [ParameterSpec] = [
        .string("train_ann", default: "train.json", doc: "COCO instances JSON of the training split, under data.root."),
        .string("train_img", default: "train/images", doc: "Folder of the training images, under data.root."),
        .string(
            "val_ann", default: "val.json",
            doc: "COCO instances JSON of the validation split, under data.root; empty for no evaluation."),
        .string("val_img", default: "val/images", doc: "Folder of the validation images, under data.root."),
        .intList(
            "short_sides", default: [800], range: 1...8192,
            doc: "Training resize: the shorter side, drawn per image when several (multi-scale)."),
        .int(
            "max_size", default: 1333, range: 1...8192, doc: "Resize limit of the longer side."),
        .int("test_short_side", default: 800, range: 1...8192, doc: "Evaluation resize of the shorter side."),
        .int("nms_pre", default: 1000, range: 1...1_000_000, doc: "Candidates kept per level before NMS."),
        .float("score_thr", default: 0.05, range: 0...1, doc: "Detections scoring at or below this are dropped."),
        .float("iou_threshold", default: 0.5, range: 0...1, doc: "Per-class NMS IoU threshold."),
        .int("max_per_img", default: 100, range: 1...100_000, doc: "Detections kept per image."),
    ]
}
