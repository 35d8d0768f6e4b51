import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeRecipes

/// One kind of training a recipe can ask for with `task: NAME`: the recipe sections it
/// reads, how it builds what the training loop runs, what it measures, and how
/// `mixmae eval --checkpoint` evaluates one of its checkpoints.
///
/// A new task is one type that conforms, added to ``TaskCatalog/standard``; the recipe
/// schema, validation, `train`, `eval` and the help texts pick it up from there.
///
/// ```swift
/// struct InstanceSegmentation: TaskKind {
///     var name: String { "instance" }
///     var summary: String { "Mask R-CNN finetuning" }
///     var sections: [RecipeSchema.Entry] { [TaskSections.initialization, .section("instance", specs)] }
///     var validationMetrics: [TaskMetric] { [TaskMetric(name: "mask_AP", label: "mask AP")] }
///     var selectionMetric: TaskMetric? { validationMetrics.first }
///     var checkpointEvaluator: (any CheckpointEvaluator)? { InstanceCheckpointEvaluator() }
///     func makeTraining(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
///         -> PreparedTraining { ... }
/// }
/// ```
public protocol TaskKind: Sendable {
    /// The recipe's `task:` value (`classify`), also the task recorded with each run.
    var name: String { get }
    /// What it trains, in a few words, for help texts (`classification finetuning`).
    var summary: String { get }
    /// The sections it reads besides the common ones (``CommonSections``: data, optim,
    /// schedule, checkpoint, log) and `model`, with their schemas. A section of another task
    /// in its recipe is a mistake, reported at the section.
    var sections: [RecipeSchema.Entry] { get }
    /// What it measures on the validation split after every epoch (and `eval --checkpoint`
    /// prints), in print order; empty when it has no validation metric.
    var validationMetrics: [TaskMetric] { get }
    /// The metric that picks the best checkpoint (`checkpoint.best`), or nil for none.
    var selectionMetric: TaskMetric? { get }
    /// How `mixmae eval RECIPE --checkpoint REF` evaluates its checkpoints, or nil when it
    /// has nothing to evaluate them on.
    var checkpointEvaluator: (any CheckpointEvaluator)? { get }

    /// Builds the task the training loop runs and its training data from a validated
    /// recipe; `initialWeights` is the verified file of `init.weights`, if any.
    func makeTraining(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> PreparedTraining
}

extension TaskKind {
    public var selectionMetric: TaskMetric? { nil }
    public var checkpointEvaluator: (any CheckpointEvaluator)? { nil }

    /// Whether it reads `init.weights` (it declares ``TaskSections/initialization``).
    public var readsInitialWeights: Bool {
        sections.contains { $0.name == TaskSections.initialization.name }
    }

    /// The metric `name` of ``validationMetrics``: how to print it.
    public func metric(_ name: String) -> TaskMetric? {
        validationMetrics.first { $0.name == name }
    }
}

/// A value a task measures: its registry name (the name training logs it under, so that
/// `runs compare` lines runs up), how to print it, and which way is better.
public struct TaskMetric: Sendable, Equatable {
    public var name: String
    public var label: String
    public var higherIsBetter: Bool

    public init(name: String, label: String? = nil, higherIsBetter: Bool = true) {
        self.name = name
        self.label = label ?? name
        self.higherIsBetter = higherIsBetter
    }
}

/// What a task kind built for one run: the task the loop trains, its data, and lines for
/// the log (how the initial weights were loaded).
public struct PreparedTraining {
    public var task: TrainingTask
    public var data: BatchSource
    public var notes: [String]
    /// Tags the registry keeps with the run (`runs show` prints them).
    public var tags: [String: String]

    public init(task: TrainingTask, data: BatchSource, notes: [String] = [], tags: [String: String] = [:]) {
        self.task = task
        self.data = data
        self.notes = notes
        self.tags = tags
    }

    /// A finetune's training, noting how its backbone was initialised; the tables
    /// converted to another window or resolution are tagged `init.conversions`.
    public init(task: TrainingTask, data: BatchSource, initialWeights: InitialWeights.Report?) {
        let conversions = initialWeights?.conversions ?? []
        self.init(
            task: task, data: data, notes: initialWeights.map { [$0.summary] } ?? [],
            tags: conversions.isEmpty
                ? [:] : ["init.conversions": conversions.map(\.description).joined(separator: "; ")])
    }
}

/// Sections several tasks read.
public enum TaskSections {
    /// `init`: where the initial backbone weights come from (the finetuning tasks).
    public static let initialization = RecipeSchema.Entry.section(
        "init",
        [
            .string(
                "weights", default: "",
                doc:
                    "Initial backbone weights: run:ID (its last checkpoint), run:ID:best, sha256:PREFIX, or a file path; empty = random."
            ),
            .bool(
                "strict", default: false,
                doc:
                    "Require every backbone tensor to be in the checkpoint (decoder and head tensors are always ignored)."
            ),
            .string(
                "key", default: "",
                doc:
                    "In a PyTorch checkpoint (.pth/.pt/.bin): the key of the state dict (e.g. model); empty = found in the usual places."
            ),
        ], doc: "Where the initial weights come from.")
}
