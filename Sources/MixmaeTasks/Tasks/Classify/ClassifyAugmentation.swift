import MixKit
import MixmaeData

extension TaskRecipe {
    /// The classification training transform from `data.*`, in timm 0.4.12's order:
    /// RandomResizedCrop (`img_size`, `crop_scale`, `interpolation`) -> flip (`hflip`) ->
    /// RandAugment (`auto_augment`, filled with the mean colour of `data.mean`) ->
    /// normalise (`mean`, `std`) -> RandomErasing (`reprob`, `remode`, `recount`).
    /// A bad RandAugment config is reported at `data.auto_augment`.
    ///
    /// ```swift
    /// let augmentation = try recipe.classificationAugmentation()
    /// let loader = ImageBatchLoader(samples: s, options: o, imageSize: 224) { image, rng in
    ///     try augmentation.augmentedImage(image, using: &rng)
    /// }
    /// loader.erasing = augmentation.erasing
    /// ```
    public func classificationAugmentation() throws -> TrainingAugmentation {
        let crop = RandomResizedCrop(size: data.int("img_size"), scale: try cropScale(), filter: resizeFilter)
        var randAugment: RandAugment?
        let config = data.string("auto_augment")
        if !config.isEmpty {
            do {
                randAugment = try RandAugment(
                    config: config, fill: RandAugment.fill(mean: data.floatList("mean")))
            } catch let error as RandAugmentConfigError {
                throw issue(at: "data.auto_augment", error.message)
            }
        }
        let reprob = data.float("reprob")
        let erasing =
            reprob > 0
            ? RandomErasing(
                probability: reprob, mode: RandomErasing.Mode(rawValue: data.string("remode")) ?? .pixel,
                maxCount: data.int("recount")) : nil
        return TrainingAugmentation(
            crop: crop, flipProbability: data.float("hflip"), randAugment: randAugment, normalization: normalization,
            erasing: erasing)
    }
}
