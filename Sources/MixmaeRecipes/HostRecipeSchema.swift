import MixKit

extension RecipeSchema {
    /// The sections the host itself reads, with the MixMAE paper's defaults, and
    /// the component slots under `model` that plugins fill. One schema serves
    /// every task; ``TaskKind/sections`` says which sections a task reads.
    public static let host = RecipeSchema([
        .parameter(
            .string(
                "task", default: "pretrain", allowed: TaskKind.allCases.map(\.rawValue),
                doc: "What the recipe trains: pretrain (MixMAE), classify, detect or segment.")),
        .parameter(
            .int("seed", default: 0, range: 0...4_294_967_295, doc: "Seed of every random generator.")),
        .section("data", HostSections.data, doc: "Training and validation data, augmentation."),
        .section("optim", HostSections.optim, doc: "The optimiser."),
        .section("schedule", HostSections.schedule, doc: "Epochs and learning-rate schedule."),
        .section("mask", HostSections.mask, doc: "MixMAE mixing mask (task pretrain)."),
        .section("finetune", HostSections.finetune, doc: "Label smoothing, mixup and cutmix (task classify)."),
        .section("detect", HostSections.detect, doc: "Detection data layout, resizing and inference (task detect)."),
        .section(
            "segment", HostSections.segment, doc: "Segmentation data layout, resizing and inference (task segment)."),
        .section("init", HostSections.initialization, doc: "Where the initial weights come from."),
        .section("checkpoint", HostSections.checkpoint, doc: "When checkpoints are written."),
        .section("log", HostSections.log, doc: "Metrics and pictures."),
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

/// The tasks a recipe can train, and the sections each one reads.
public enum TaskKind: String, CaseIterable, Sendable {
    case pretrain, classify, detect, segment

    /// Sections (besides task, seed, data, optim, schedule, checkpoint, log, model) the task reads.
    public var sections: Set<String> {
        switch self {
        case .pretrain: return ["mask"]
        case .classify: return ["finetune", "init"]
        case .detect: return ["init", "detect"]
        case .segment: return ["init", "segment"]
        }
    }

    /// Sections only some tasks read.
    public static let optionalSections: Set<String> = ["mask", "finetune", "init", "detect", "segment"]
}

/// The parameter schemas of the host's own recipe sections.
public enum HostSections {
    public static let data: [ParameterSpec] = [
        .string(
            "root", default: nil,
            doc:
                "Training data: a folder of class subfolders of images (ImageFolder), or of images and annotations for dense tasks."
        ),
        .string(
            "val_root", default: "",
            doc: "Validation data in the same layout as root; empty for none (classification needs one)."),
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
        .float(
            "eval_crop", default: 0.875, range: 0.1...1,
            doc: "Evaluation: resize the shorter side to img_size / eval_crop, then centre-crop img_size."),
        .bool(
            "skip_broken", default: true,
            doc: "Skip unreadable images with a warning (counted); false fails the run on the first one."),
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
        .float("clip_grad", default: 0, range: 0...1e6, doc: "Clip the global gradient norm to this; 0 = off."),
        .float(
            "layer_decay", default: 1, range: 0...1,
            doc: "Layer-wise learning-rate decay for finetuning (1 = off; the paper uses 0.7)."),
    ]

    public static let schedule: [ParameterSpec] = [
        .int("epochs", default: 600, range: 1...100_000, doc: "Training epochs."),
        .float(
            "warmup_epochs", default: 40, range: 0...100_000,
            doc: "Epochs of linear warm-up from 0 to the peak learning rate (fractions allowed)."),
        .float(
            "min_lr", default: 0, range: 0...1,
            doc: "Learning rate at the end of the decay (per iteration)."),
        .string(
            "kind", default: "cosine", allowed: ["cosine", "poly", "step"],
            doc: "Decay after warm-up: half-cosine, polynomial (power 1), or steps at 2/3 and 8/9 of training."),
    ]

    public static let mask: [ParameterSpec] = [
        .float(
            "ratio", default: 0.5, range: 0...1,
            doc: "Fraction of final-stage tokens (32x32-pixel units) taken from the partner image."),
        .float(
            "extra_ratio", default: 0, range: 0...1,
            doc: "A random U(0, extra_ratio) added to the ratio for each batch (the reference's range_mask_ratio)."),
    ]

    public static let finetune: [ParameterSpec] = [
        .float("label_smoothing", default: 0.1, range: 0...1, doc: "Label smoothing of the targets."),
        .float("mixup", default: 0.8, range: 0...100, doc: "Mixup Beta(alpha, alpha) parameter; 0 = off."),
        .float("cutmix", default: 1.0, range: 0...100, doc: "CutMix Beta(alpha, alpha) parameter; 0 = off."),
        .float("mix_prob", default: 1.0, range: 0...1, doc: "Probability of applying mixup or cutmix to a batch."),
        .float(
            "switch_prob", default: 0.5, range: 0...1,
            doc: "Probability of cutmix instead of mixup when both are on."),
    ]

    /// Task `detect`: a COCO instances file and an image folder per split, relative
    /// to `data.root` (mmdetection's `ann_file` and `data_prefix`), resizing as
    /// mmdet's `Resize(keep_ratio=True)` and the inference settings of its `test_cfg`.
    /// Images are resized, padded to a multiple of 32 and placed on the backbone's
    /// square `data.img_size` canvas, so `max_size` may not exceed `data.img_size`.
    public static let detect: [ParameterSpec] = [
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
            "max_size", default: 1333, range: 1...8192, doc: "Resize limit of the longer side (at most data.img_size)."),
        .int("test_short_side", default: 800, range: 1...8192, doc: "Evaluation resize of the shorter side."),
        .int("nms_pre", default: 1000, range: 1...1_000_000, doc: "Candidates kept per level before NMS."),
        .float("score_thr", default: 0.05, range: 0...1, doc: "Detections scoring at or below this are dropped."),
        .float("iou_threshold", default: 0.5, range: 0...1, doc: "Per-class NMS IoU threshold."),
        .int("max_per_img", default: 100, range: 1...100_000, doc: "Detections kept per image."),
    ]

    /// Task `segment`: image and label-map folders per split, relative to `data.root`
    /// (mmsegmentation's `img_path` / `seg_map_path`), its ADE20K pipeline (random
    /// resize around `scale`, `data.img_size` crops, flip) and whole-image or
    /// sliding-window inference on the backbone's square `data.img_size` input.
    public static let segment: [ParameterSpec] = [
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
        .string(
            "mode", default: "whole", allowed: ["whole", "slide"],
            doc: "Evaluation: the whole resized image at once (it must fit data.img_size), or sliding windows."),
        .int(
            "stride", default: 0, range: 0...16384,
            doc: "Sliding-window stride in pixels; 0 = two thirds of data.img_size."),
    ]

    public static let initialization: [ParameterSpec] = [
        .string(
            "weights", default: "",
            doc:
                "Initial backbone weights: run:ID (its last checkpoint), run:ID:best, sha256:PREFIX, or a file path; empty = random."
        ),
        .bool(
            "strict", default: false,
            doc: "Require every backbone tensor to be in the checkpoint (decoder and head tensors are always ignored)."),
    ]

    public static let checkpoint: [ParameterSpec] = [
        .int(
            "every", default: 1, range: 0...100_000,
            doc: "Also keep a checkpoint every N epochs (the last one is always kept); 0 = only the last.")
    ]

    public static let log: [ParameterSpec] = [
        .int("every", default: 10, range: 1...1_000_000, doc: "Record averaged metrics every N steps."),
        .int(
            "pictures_every", default: 1, range: 0...100_000,
            doc: "Epochs between pictures (reconstruction grids); 0 = none."),
        .int("pictures", default: 8, range: 0...64, doc: "Images in each picture grid (the first validation images)."),
        .int(
            "val_images", default: 64, range: 0...100_000,
            doc: "Pretraining: images (of data.val_root, else spread over data.root; an even number) whose "
                + "reconstruction loss under one fixed mask is val_loss after every epoch; 0 = no val_loss."),
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
/// PluginRecipeSchemaProvider.install()   // sets makeCurrent to load the plugin catalog
/// ```
public enum RecipeSchemaProviders {
    nonisolated(unsafe) public static var makeCurrent: () -> any RecipeSchemaProvider = {
        HostRecipeSchemaProvider()
    }
}
