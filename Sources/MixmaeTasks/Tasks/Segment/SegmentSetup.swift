import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost

/// Builds the semantic segmentation finetune task, its data and its model from
/// a recipe (`task: segment`): a backbone (initialised from `init.weights`), an
/// optional neck and a segmentation head (`upernet`), image and label-map
/// folders under `data.root`.
public enum SegmentSetup {
    /// - Parameter initialWeights: the resolved file of `init.weights`, if any.
    public static func make(recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> (task: SegmentTask, data: SegmentationBatchLoader, initReport: InitialWeights.Report?)
    {
        let data = recipe.data
        let segment = recipe.section("segment")
        let imageSize = data.int("img_size")
        let root = data.string("root")
        let ignoreIndex = segment.int("ignore_index")
        let classes = segment.int("num_classes")
        guard ignoreIndex >= classes else {
            throw recipe.issue(
                at: "segment.ignore_index",
                "\(ignoreIndex) is a class index (num_classes is \(classes)); use a value >= num_classes, such as 255")
        }
        let train = try SegmentationDataset(
            imageDirectory: DetectSetup.path(root, segment.string("train_img_dir")),
            annotationDirectory: DetectSetup.path(root, segment.string("train_ann_dir")),
            reduceZeroLabel: segment.bool("reduce_zero_label"))
        let model = try buildModel(recipe: recipe, builder: builder, classes: classes)
        let report = try initialWeights.map {
            try InitialWeights.load(into: model.backbone, from: $0, strict: recipe.section("init").bool("strict"))
        }
        let scale = segment.intList("scale")
        let ratio = segment.floatList("ratio_range")
        guard ratio[0] <= ratio[1] else {
            throw recipe.issue(at: "segment.ratio_range", "\(ratio) must be [low, high] with low <= high")
        }
        let augmentation = SegmentationAugmentation(
            longSide: scale[0], shortSide: scale[1], ratioRange: ratio[0]...ratio[1], cropWidth: imageSize,
            cropHeight: imageSize, catMaxRatio: segment.float("cat_max_ratio"), flipProbability: data.float("hflip"),
            ignoreIndex: UInt8(ignoreIndex), photometric: segment.bool("photometric") ? PhotometricDistortion() : nil)
        let loader = SegmentationBatchLoader(
            dataset: train, options: recipe.trainingLoaderOptions, ignoreIndex: UInt8(ignoreIndex),
            transform: augmentation)
        guard loader.batchesPerEpoch > 0 else {
            throw recipe.issue(
                at: "data.batch_size",
                "\(train.pairs.count) images in \(train.imageDirectory) do not fill one batch of \(data.int("batch_size")): lower data.batch_size"
            )
        }
        let validation = try validationSet(recipe: recipe)
        let task = SegmentTask(
            model: model, classes: classes, ignoreIndex: ignoreIndex,
            layerDecay: recipe.optim.float("layer_decay"), weightDecay: recipe.optim.float("weight_decay"),
            validation: validation, inference: inference(recipe))
        task.pictures = PredictionPictureSchedule(recipe: recipe)
        return (task, loader, report)
    }

    /// Whole-image or sliding-window inference from `segment.mode` and `segment.stride`.
    public static func inference(_ recipe: TaskRecipe) -> SegmentationInference {
        let segment = recipe.section("segment")
        guard segment.string("mode") == "slide" else { return .whole }
        let (crop, stride) = (recipe.data.int("img_size"), segment.int("stride"))
        return .slide(crop: crop, stride: stride > 0 ? stride : max(crop * 2 / 3, 1))
    }

    /// Backbone, neck and head from `model.*`, checked against each other.
    public static func buildModel(recipe: TaskRecipe, builder: ComponentBuilder, classes: Int) throws
        -> SegmentorModel
    {
        let (headID, headParams) = try recipe.requiredComponent("head", for: "e.g. name: upernet")
        let trunk = try DenseTrunk(recipe: recipe, builder: builder, needsAnySize: "segmentation")
        let head = try recipe.building("head") {
            try builder.segmentationHead(headID, headParams, context: trunk.headContext(classes: classes))
        }
        return SegmentorModel(backbone: trunk.backbone, neck: trunk.neck, head: head)
    }

    /// The validation split, or nil when `segment.val_img_dir` is empty.
    public static func validationSet(recipe: TaskRecipe) throws -> SegmentationValidation? {
        let data = recipe.data
        let segment = recipe.section("segment")
        let images = segment.string("val_img_dir")
        guard !images.isEmpty else { return nil }
        let root = data.string("root")
        let dataset = try SegmentationDataset(
            imageDirectory: DetectSetup.path(root, images),
            annotationDirectory: DetectSetup.path(root, segment.string("val_ann_dir")),
            reduceZeroLabel: segment.bool("reduce_zero_label"))
        let scale = segment.intList("scale")
        let loader = SegmentationBatchLoader(
            dataset: dataset, options: recipe.evaluationLoaderOptions, ignoreIndex: UInt8(segment.int("ignore_index")),
            transform: SegmentationResize(longSide: scale[0], shortSide: scale[1]))
        return SegmentationValidation(dataset: dataset, loader: loader)
    }
}
