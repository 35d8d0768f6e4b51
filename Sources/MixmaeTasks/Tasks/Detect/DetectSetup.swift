import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeRecipes

/// Builds the detection finetune task, its data and its model from a recipe
/// (`task: detect`): a backbone (initialised from `init.weights`), an optional
/// neck (`fpn`) and either a dense detection head (`model.head: fcos`) or a
/// two-stage detector (`model.rpn`, `model.roi_box` and optionally
/// `model.roi_mask`: Mask R-CNN), COCO-format data under `data.root`.
public enum DetectSetup {
    /// - Parameters:
    ///   - initialWeights: the resolved file of `init.weights`, if any.
    ///   - runDirectory: where evaluation writes its detections (COCO results JSON).
    public static func make(
        recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?, runDirectory: String
    ) throws -> (task: DetectTask, data: DetectionBatchLoader, initReport: InitialWeights.Report?) {
        let data = recipe.data
        let detect = recipe.section("detect")
        let maxSize = detect.int("max_size")
        let shortSides = detect.intList("short_sides")
        guard !shortSides.isEmpty else {
            throw recipe.issue(
                at: "detect.short_sides",
                "the list is empty: give at least one training size for the shorter image side, such as [\(maxSize)]")
        }
        let root = data.string("root")
        let train = try DetectionDataset(
            annotationFile: path(root, detect.string("train_ann")),
            imageDirectory: path(root, detect.string("train_img")))
        try requireImages(of: train, key: "detect.train_img", in: recipe)

        let model = try buildModel(recipe: recipe, builder: builder, classes: train.classCount)
        if model.predictsMasks, let missing = train.firstAnnotationWithoutMask() {
            throw recipe.issue(
                at: "detect.train_ann",
                "image id \(missing.imageID) of \(train.annotationFile): its annotation \(missing.position) (counting "
                    + "the image's non-crowd annotations) has no segmentation, but model.roi_mask trains masks: give "
                    + "every annotation polygons or an RLE mask, or remove model.roi_mask")
        }
        let report = try initialWeights.map {
            try InitialWeights.load(into: model.backbone, from: $0, strict: recipe.section("init").bool("strict"))
        }
        let transform = DetectionTransform(
            shortSides: shortSides, maxSize: maxSize, flipProbability: data.float("hflip"),
            sizeDivisor: 32, makesMasks: model.predictsMasks)
        let loader = DetectionBatchLoader(dataset: train, options: recipe.trainingLoaderOptions, transform: transform)
        guard loader.batchesPerEpoch > 0 else {
            throw recipe.issue(
                at: "data.batch_size",
                "\(train.items.count) images in \(train.annotationFile) do not fill one batch of \(data.int("batch_size")): lower data.batch_size"
            )
        }
        let validation = try validationSet(recipe: recipe)
        if let validation, validation.dataset.categories.map(\.id) != train.categories.map(\.id) {
            throw recipe.issue(
                at: "detect.val_ann",
                "the validation categories \(validation.dataset.categories.map(\.id)) differ from the training categories \(train.categories.map(\.id)); both splits need the same category ids"
            )
        }
        let task = DetectTask(
            model: model, layerDecay: recipe.optim.float("layer_decay"),
            weightDecay: recipe.optim.float("weight_decay"), validation: validation, settings: settings(recipe),
            outputDirectory: runDirectory)
        task.pictures = PredictionPictureSchedule(recipe: recipe)
        return (task, loader, report)
    }

    /// Inference post-processing from the `detect` section.
    public static func settings(_ recipe: TaskRecipe) -> DetectionSettings {
        let detect = recipe.section("detect")
        return DetectionSettings(
            preNMSTopK: detect.int("nms_pre"), scoreThreshold: Float(detect.float("score_thr")),
            iouThreshold: Float(detect.float("iou_threshold")), maxPerImage: detect.int("max_per_img"))
    }

    /// Backbone, neck and head (or RPN and RoI heads) from `model.*`, checked against each other.
    public static func buildModel(recipe: TaskRecipe, builder: ComponentBuilder, classes: Int) throws
        -> any DetectionModel
    {
        if recipe.component("rpn") != nil || recipe.component("roi_box") != nil || recipe.component("roi_mask") != nil {
            return try TwoStageSetup.buildModel(recipe: recipe, builder: builder, classes: classes)
        }
        let (headID, headParams) = try recipe.requiredComponent(
            "head", for: "e.g. name: fcos; or model.rpn, model.roi_box and model.roi_mask for Mask R-CNN")
        let trunk = try DenseTrunk(recipe: recipe, builder: builder, needsAnySize: "detection")
        let head = try recipe.building("head") {
            try builder.detectionHead(headID, headParams, context: trunk.headContext(classes: classes))
        }
        return DetectorModel(backbone: trunk.backbone, neck: trunk.neck, head: head)
    }

    /// The validation split with its ground truth, or nil when `detect.val_ann` is empty.
    public static func validationSet(recipe: TaskRecipe) throws -> DetectionValidation? {
        let data = recipe.data
        let detect = recipe.section("detect")
        let annotations = detect.string("val_ann")
        guard !annotations.isEmpty else { return nil }
        let root = data.string("root")
        let file = path(root, annotations)
        let truth = try COCOInstances(contentsOfFile: file)
        let dataset = try DetectionDataset(
            instances: truth, annotationFile: file, imageDirectory: path(root, detect.string("val_img")))
        try requireImages(of: dataset, key: "detect.val_img", in: recipe)
        let transform = DetectionTransform(
            shortSides: [detect.int("test_short_side")], maxSize: detect.int("max_size"), sizeDivisor: 32)
        let loader = DetectionBatchLoader(
            dataset: dataset, options: recipe.evaluationLoaderOptions, transform: transform)
        return DetectionValidation(truth: truth, dataset: dataset, loader: loader)
    }

    /// Fails at `key` when not one of the dataset's images is in its image folder.
    static func requireImages(of dataset: DetectionDataset, key: RecipePath, in recipe: TaskRecipe) throws {
        guard let first = dataset.firstImageIfNoneExists() else { return }
        throw recipe.issue(
            at: key,
            "none of the \(dataset.items.count) images of \(dataset.annotationFile) is in \(dataset.imageDirectory) "
                + "(the first would be \(first)): set \(key) to the folder holding them (relative to data.root)")
    }

    static func path(_ root: String, _ relative: String) -> String {
        relative.hasPrefix("/") ? relative : (root as NSString).appendingPathComponent(relative)
    }
}
