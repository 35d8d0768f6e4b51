import MixKit
import MixmaePluginHost
import MixmaeRecipes

/// `task: segment`: semantic segmentation finetuning of a backbone, an optional neck and a
/// segmentation head on image and label-map folders (``SegmentSetup``, ``SegmentTask``); it
/// reads `init` and `segment`, measures mIoU and aAcc on the validation split and keeps the
/// checkpoint with the best mIoU.
public struct SemanticSegmentation: TaskKind {
    public init() {}

    public static let meanIoU = TaskMetric(name: "mIoU")
    public static let pixelAccuracy = TaskMetric(name: "aAcc")

    public var name: String { "segment" }
    public var summary: String { "semantic segmentation finetuning" }
    public var sections: [RecipeSchema.Entry] {
        [
            TaskSections.initialization,
            .section(
                "segment", Self.segmentSection,
                doc: "Segmentation data layout, resizing and inference (task segment)."),
        ]
    }
    public var validationMetrics: [TaskMetric] { [Self.meanIoU, Self.pixelAccuracy] }
    public var selectionMetric: TaskMetric? { Self.meanIoU }
    public var checkpointEvaluator: (any CheckpointEvaluator)? { SegmentationCheckpointEvaluator() }

    public func makeTraining(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> PreparedTraining
    {
        let (task, data, report) = try SegmentSetup.make(
            recipe: recipe, builder: builder, initialWeights: initialWeights)
        return PreparedTraining(task: task, data: data, initialWeights: report)
    }

    /// Task `segment`: image and label-map folders per split, relative to `data.root`
    /// (mmsegmentation's `img_path` / `seg_map_path`), its ADE20K pipeline (random
    /// resize around `scale`, `data.img_size` crops, flip) and whole-image or
    /// sliding-window (`data.img_size` windows) inference; the backbone takes any size.
    public static let segmentSection: [ParameterSpec] = [
        .string("train_img_dir", default: "images/training", doc: "Training images, under data.root."),
        .string("train_ann_dir", default: "annotations/training", doc: "Training label maps (PNG), under data.root."),
        .string(
            "val_img_dir", default: "images/validation",
            doc: "Validation images, under data.root; empty for no evaluation."),
        .string("val_ann_dir", default: "annotations/validation", doc: "Validation label maps, under data.root."),
        .int("num_classes", default: 150, range: 1...255, doc: "Classes of the label maps (ADE20K: 150)."),
        .int("ignore_index", default: 255, range: 0...255, doc: "Label of pixels that count nowhere."),
        .bool(
            "reduce_zero_label", default: false,
            doc: "ADE20K's files: label 0 becomes ignored and every other label v becomes v - 1."),
        .intList(
            "scale", default: [2048, 512], range: 1...16384, count: 2,
            doc: "[long, short] resize limits (aspect kept), for training (times ratio_range) and evaluation."),
        .floatList(
            "ratio_range", default: [0.5, 2.0], range: 0.01...100, count: 2, doc: "Training: random scale factor range."
        ),
        .float(
            "cat_max_ratio", default: 0.75, range: 0...1,
            doc: "Training crops: redraw (up to 10 times) while one class covers more than this; 1 = off."),
        .bool(
            "photometric", default: true,
            doc:
                "Training: mmseg's PhotoMetricDistortion (brightness, contrast, saturation, hue, each with probability 1/2)."
        ),
        .string(
            "mode", default: "whole", allowed: ["whole", "slide"],
            doc: "Evaluation: the whole resized image at once at its own size, or sliding data.img_size windows."),
        .int(
            "stride", default: 0, range: 0...16384,
            doc: "Sliding-window stride in pixels; 0 = two thirds of data.img_size."),
    ]
}
