import MixKit

extension RecipeSchema {
    /// A recipe's schema: `task` (one of `tasks`, the first by default), `seed`, the sections
    /// every task reads (``CommonSections``), `taskSections` (what the tasks read besides, each
    /// once), and the component slots under `model` that plugins fill.
    ///
    /// ```swift
    /// let schema = RecipeSchema.recipe(
    ///     tasks: [("pretrain", "MixMAE pretraining")],
    ///     taskSections: [.section("mask", maskSpecs, doc: "MixMAE mixing mask (task pretrain).")])
    /// ```
    public static func recipe(tasks: [(name: String, summary: String)], taskSections: [Entry]) -> RecipeSchema {
        let names = tasks.map(\.name)
        let summaries = tasks.map { "\($0.name) (\($0.summary))" }.joined(separator: ", ")
        return RecipeSchema(
            [
                .parameter(
                    .string(
                        "task", default: names.first, allowed: names, doc: "What the recipe trains: \(summaries).")),
                .parameter(
                    .int("seed", default: 0, range: 0...4_294_967_295, doc: "Seed of every random generator.")),
                .parameter(
                    .string(
                        "distributed", default: "auto", allowed: ["auto", "none", "mpi"],
                        doc:
                            "Processes of one run: auto (MPI when started by mpirun or srun, else one process), "
                            + "none (one process), mpi (MPI required: the communicator plugin Plugins/MPI).")),
                .section("data", CommonSections.data, doc: "Training and validation data, augmentation."),
                .section("optim", CommonSections.optim, doc: "The optimiser."),
                .section("schedule", CommonSections.schedule, doc: "Epochs and learning-rate schedule."),
            ] + taskSections + [
                .section("checkpoint", CommonSections.checkpoint, doc: "When checkpoints are written."),
                .section("log", CommonSections.log, doc: "Metrics and pictures."),
                .group(
                    "model",
                    [
                        .component("backbone", kind: .backbone, required: true, doc: "The encoder."),
                        .component("neck", kind: .neck, doc: "Feature-map adapter for dense heads."),
                        .component("decoder", kind: .decoder, doc: "Pixel decoder for pretraining."),
                        .component("loss", kind: .loss, doc: "Training objective."),
                        .component("head", kind: .head, doc: "Task head for finetuning."),
                        .component("rpn", kind: .rpn, doc: "Region proposal network of a two-stage detector."),
                        .component("roi_box", kind: .roiHead, doc: "RoI box head of a two-stage detector."),
                        .component("roi_mask", kind: .roiHead, doc: "RoI mask head of a two-stage detector."),
                    ], doc: "The model, one plugin component per slot."),
            ])
    }
}

/// The parameter schemas of the sections every task reads (a task's own sections are
/// declared by the task, see `TaskKind` in MixmaeTasks).
public enum CommonSections {
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
        .string(
            "auto_augment", default: "",
            doc:
                "Classification training: timm's RandAugment config after the crop and flip (the reference: rand-m9-mstd0.5-inc1); empty = none."
        ),
        .float(
            "reprob", default: 0, range: 0...1,
            doc:
                "Classification training: RandomErasing probability per image, after normalising (the reference: 0.25)."
        ),
        .string(
            "remode", default: "pixel", allowed: ["pixel", "rand", "const"],
            doc: "RandomErasing fill: pixel (normal noise per value), rand (per channel) or const (zero)."),
        .int("recount", default: 1, range: 1...64, doc: "RandomErasing: at most this many rectangles per image."),
        .float(
            "eval_crop", default: 0.875, range: 0.1...1,
            doc: "Evaluation: resize the shorter side to img_size / eval_crop, then centre-crop img_size."),
        .bool(
            "skip_broken", default: true,
            doc: "Skip unreadable images with a warning (counted); false fails the run on the first one."),
        .float(
            "max_unreadable", default: 0.01, range: 0...1,
            doc: "Largest fraction of the dataset's images that may be skipped as unreadable; more fails the run "
                + "with the list."),
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
        .int(
            "accum_steps", default: 1, range: 1...65_536,
            doc:
                "Gradient accumulation (the reference's --accum_iter): each optimizer step sums the gradients of this many "
                + "micro-batches per process; data.batch_size stays the whole step's batch and must divide by "
                + "accum_steps times the number of processes."),
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

    public static let checkpoint: [ParameterSpec] = [
        .int(
            "every", default: 1, range: 0...100_000,
            doc: "Also keep a checkpoint every N epochs (the last one is always kept); 0 = only the last.")
    ]

    public static let log: [ParameterSpec] = [
        .int("every", default: 10, range: 1...1_000_000, doc: "Record averaged metrics every N steps."),
        .int(
            "pictures_every", default: 1, range: 0...100_000,
            doc: "Epochs between pictures (pretraining: reconstructions; detection, segmentation: predictions "
                + "beside the ground truth); 0 = none."),
        .int("pictures", default: 8, range: 0...64, doc: "Images in each picture grid (the first validation images)."),
        .int(
            "val_images", default: 64, range: 0...100_000,
            doc: "Pretraining: images (of data.val_root, else spread over data.root; an even number) whose "
                + "reconstruction loss under one fixed mask is val_loss after every epoch; 0 = no val_loss."),
    ]
}
