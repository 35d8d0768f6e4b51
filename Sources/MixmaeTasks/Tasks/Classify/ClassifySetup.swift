import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeSupport

/// Builds the classification finetune task, its data and its model from a recipe.
public enum ClassifySetup {
    /// - Parameter initialWeights: the resolved file of `init.weights`, if any.
    public static func make(recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> (task: ClassifyTask, data: ImageBatchLoader, initReport: InitialWeights.Report?)
    {
        let data = recipe.data
        let imageSize = data.int("img_size")
        let train = try recipe.imageFolder("root")
        guard train.classes.count >= 2 else {
            throw recipe.issue(
                at: "data.root",
                "classification needs at least 2 class folders in \(train.root), found \(train.classes.count)")
        }
        let model = try makeModel(recipe: recipe, builder: builder, classCount: train.classes.count)
        let report = try initialWeights.map {
            try InitialWeights.load(into: model.backbone, from: $0, strict: recipe.section("init").bool("strict"))
        }

        let augmentation = try recipe.classificationAugmentation()
        let loader = ImageBatchLoader(
            samples: train.samples, options: recipe.trainingLoaderOptions, imageSize: imageSize
        ) { image, rng in
            try augmentation.augmentedImage(image, using: &rng)
        }
        loader.erasing = augmentation.erasing
        guard loader.batchesPerEpoch > 0 else {
            throw recipe.issue(
                at: "data.batch_size",
                "\(train.samples.count) images in \(train.root) do not fill one batch of \(data.int("batch_size")): lower data.batch_size"
            )
        }
        let validation = try validationLoader(recipe: recipe, classes: train.classes)
        let finetune = recipe.section("finetune")
        let mixing = MixupCutmix(
            mixupAlpha: finetune.float("mixup"), cutmixAlpha: finetune.float("cutmix"),
            probability: finetune.float("mix_prob"), switchProbability: finetune.float("switch_prob"),
            labelSmoothing: finetune.float("label_smoothing"), classes: train.classes.count)
        let task = ClassifyTask(
            model: model, mixing: mixing, layerDecay: recipe.optim.float("layer_decay"),
            weightDecay: recipe.optim.float("weight_decay"), validation: validation, seed: derivedSeed(recipe.seed, 3))
        let normalization = recipe.normalization
        task.trainingPicture = { [loader] in
            guard let batch = try loader.batches(epoch: 0, skip: 0).next() else {
                throw InputError("the training split gives no batch")
            }
            return try AugmentedImagesPicture(batch: batch, normalization: normalization)
        }
        return (task, loader, report)
    }

    /// The recipe's backbone and head (freshly initialised) for `classCount` classes.
    public static func makeModel(recipe: TaskRecipe, builder: ComponentBuilder, classCount: Int) throws
        -> ClassifierModel
    {
        let imageSize = recipe.data.int("img_size")
        let (backboneID, backboneParams) = try recipe.requiredComponent("backbone", for: "the encoder")
        let (headID, headParams) = try recipe.requiredComponent("head", for: "e.g. name: linear-cls")
        let backbone = try recipe.building("backbone") { try builder.backbone(backboneID, backboneParams) }
        guard backbone.capabilities.imageSize == imageSize else {
            throw recipe.issue(
                at: "model.backbone.img_size",
                "the backbone is built for \(backbone.capabilities.imageSize) px but data.img_size is "
                    + "\(imageSize): set both to the same size")
        }
        let head = try recipe.building("head") {
            try builder.classificationHead(
                headID, headParams,
                context: BuildContext(
                    inputs: backbone.capabilities.outputs, imageSize: imageSize, numClasses: classCount))
        }
        return ClassifierModel(backbone: backbone, head: head)
    }

    /// The validation split with evaluation preprocessing, or nil when `data.val_root` is empty.
    /// Its classes must be the training classes (same folder names).
    public static func validationLoader(recipe: TaskRecipe, classes: [String]) throws -> ImageBatchLoader? {
        let data = recipe.data
        let root = data.string("val_root")
        guard !root.isEmpty else { return nil }
        let folder = try recipe.imageFolder("val_root")
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var samples: [ImageFolder.Sample] = []
        for sample in folder.samples {
            guard let label = index[folder.classes[sample.label]] else {
                throw recipe.issue(
                    at: "data.val_root",
                    "validation class '\(folder.classes[sample.label])' is not among the training classes \(classes)")
            }
            samples.append(ImageFolder.Sample(path: sample.path, label: label))
        }
        let prepare = ResizeCenterCrop(
            size: data.int("img_size"), cropFraction: data.float("eval_crop"), filter: recipe.resizeFilter)
        return ImageBatchLoader(
            samples: samples, options: recipe.evaluationLoaderOptions, imageSize: data.int("img_size")
        ) { image, _ in try prepare(image) }
    }
}
