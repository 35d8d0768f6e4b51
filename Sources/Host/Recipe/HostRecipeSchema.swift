import MixKit

extension RecipeSchema {
    /// The sections the host itself reads, with the MixMAE paper's pretraining
    /// defaults, and the component slots under `model` that plugins fill.
    ///
    /// Later work adds sections (finetuning, evaluation, logging) here.
    public static let host = RecipeSchema([
        .parameter(
            .string("task", default: "pretrain", allowed: ["pretrain"], doc: "What the recipe trains.")),
        .parameter(
            .int("seed", default: 0, range: 0...4_294_967_295, doc: "Seed of every random generator.")),
        .section("data", HostSections.data, doc: "Training images and augmentation."),
        .section("optim", HostSections.optim, doc: "The optimiser."),
        .section("schedule", HostSections.schedule, doc: "Epochs and learning-rate schedule."),
        .section("mask", HostSections.mask, doc: "MixMAE mixing mask."),
        .group(
            "model",
            [
                .component("backbone", kind: .backbone, required: true, doc: "The encoder."),
                .component("neck", kind: .neck, doc: "Feature-map adapter for dense heads."),
                .component("decoder", kind: .decoder, doc: "Pixel decoder for pretraining."),
                .component("loss", kind: .loss, doc: "Training objective."),
                .component("head", kind: .head, doc: "Task head for finetuning."),
            ], doc: "The model, one plugin component per slot."),
    ])
}

/// The parameter schemas of the host's own recipe sections.
public enum HostSections {
    public static let data: [ParameterSpec] = [
        .string(
            "root", default: nil,
            doc: "Folder of training images, one subfolder per class (ImageFolder layout)."),
        .int("img_size", default: 224, range: 16...4096, doc: "Side of the square training crop, in pixels."),
        .int(
            "batch_size", default: 1024, range: 1...1_048_576,
            doc: "Total batch size; the learning rate is optim.base_lr * batch_size / 256."),
        .int("num_workers", default: 2, range: 0...256, doc: "Image decoding threads."),
        .floatList(
            "crop_scale", default: [0.2, 1.0], range: 0...1, count: 2,
            doc: "RandomResizedCrop area range, as fractions of the image."),
        .float("hflip", default: 0.5, range: 0...1, doc: "Probability of a horizontal flip."),
        .floatList(
            "mean", default: [0.485, 0.456, 0.406], range: 0...1, count: 3,
            doc: "Per-channel mean subtracted after scaling pixels to [0, 1]."),
        .floatList(
            "std", default: [0.229, 0.224, 0.225], range: 1e-6...1, count: 3,
            doc: "Per-channel standard deviation divided by."),
        .string(
            "interpolation", default: "bicubic", allowed: ["bilinear", "bicubic"],
            doc: "Resampling used by the crop."),
    ]

    public static let optim: [ParameterSpec] = [
        .string("name", default: "adamw", allowed: ["adamw"], doc: "Optimiser."),
        .float(
            "base_lr", default: 1.5e-4, range: 0...1,
            doc: "Learning rate for a batch of 256; scaled linearly with data.batch_size."),
        .floatList("betas", default: [0.9, 0.95], range: 0...1, count: 2, doc: "AdamW betas."),
        .float("eps", default: 1e-8, range: 0...1, doc: "AdamW epsilon."),
        .float(
            "weight_decay", default: 0.05, range: 0...10,
            doc: "Decoupled weight decay, applied to tensors of rank >= 2 only."),
    ]

    public static let schedule: [ParameterSpec] = [
        .int("epochs", default: 600, range: 1...100_000, doc: "Training epochs."),
        .int(
            "warmup_epochs", default: 40, range: 0...100_000,
            doc: "Epochs of linear warm-up from 0 to the peak learning rate."),
        .float(
            "min_lr", default: 0, range: 0...1,
            doc: "Learning rate at the end of the half-cosine decay (per iteration)."),
    ]

    public static let mask: [ParameterSpec] = [
        .float(
            "ratio", default: 0.5, range: 0...1,
            doc: "Fraction of final-stage tokens (32x32-pixel units) taken from the partner image.")
    ]
}

/// Supplies `mixmae recipe check` (and any command that validates a recipe)
/// with the recipe schema and the component catalog.
public protocol RecipeSchemaProvider {
    var recipeSchema: RecipeSchema { get }
    /// nil when no plugins are loaded: component slots are then checked for
    /// `name:` only and their parameters are not checked.
    var componentCatalog: ComponentCatalog? { get }
}

/// The host's sections, no plugins: what `recipe check` uses until the
/// plugin loader installs its own provider in ``RecipeSchemaProviders/makeCurrent``.
public struct HostRecipeSchemaProvider: RecipeSchemaProvider {
    public var recipeSchema: RecipeSchema { .host }
    public var componentCatalog: ComponentCatalog? { nil }

    public init() {}
}

/// The one place commands get their ``RecipeSchemaProvider`` from.
///
/// The plugin system replaces `makeCurrent` at start-up with a provider whose
/// catalog lists the components of the plugins in `registry.yaml`:
///
/// ```swift
/// RecipeSchemaProviders.makeCurrent = { PluginRecipeSchemaProvider(registry: try? .load()) }
/// ```
public enum RecipeSchemaProviders {
    nonisolated(unsafe) public static var makeCurrent: () -> any RecipeSchemaProvider = {
        HostRecipeSchemaProvider()
    }
}
