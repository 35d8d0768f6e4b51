import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeRecipes
import MixmaeSupport

/// What evaluating a checkpoint on a validation split measured.
public struct CheckpointEvaluation {
    /// One measured value: its registry name (the name training logs it under, so that
    /// `runs compare` lines them up), how to print it, and the value.
    public struct Metric: Equatable {
        public var name: String
        public var label: String
        public var value: Double

        public init(name: String, label: String, value: Double) {
            self.name = name
            self.label = label
            self.value = value
        }

        /// The value of a task's metric.
        public init(_ metric: TaskMetric, value: Double) {
            self.init(name: metric.name, label: metric.label, value: value)
        }
    }

    /// The metrics, in the order to print them.
    public var metrics: [Metric]
    /// How many images (or samples) were evaluated.
    public var images: Int
    /// The split evaluated (a folder).
    public var split: String

    public init(metrics: [Metric], images: Int, split: String) {
        self.metrics = metrics
        self.images = images
        self.split = split
    }
}

/// Evaluates the trained model of one task kind in two steps: ``prepare(recipe:checkpoint:builder:log:)``
/// builds the model the recipe describes, loads a checkpoint into it and opens the recipe's
/// validation split (everything bad input can break, before a run is recorded); the returned
/// ``PreparedEvaluation`` then measures it.
///
/// A task kind names its evaluator (``TaskKind/checkpointEvaluator``).
///
/// ```swift
/// guard let evaluator = recipe.task.checkpointEvaluator else { return }
/// let prepared = try evaluator.prepare(
///     recipe: recipe, checkpoint: url, builder: ComponentBuilder(provider: catalog, rng: RandomSource(seed: 0)),
///     log: { print($0) })
/// let result = try prepared.run()
/// ```
public protocol CheckpointEvaluator {
    /// Builds the model, loads `checkpoint` (every tensor must fit) and opens the data.
    func prepare(recipe: TaskRecipe, checkpoint: URL, builder: ComponentBuilder, log: @escaping (String) -> Void)
        throws -> PreparedEvaluation
}

/// A model with its weights and data, ready to be measured.
public struct PreparedEvaluation {
    /// What will be evaluated, for the log (`38 images of data/val (6 classes)`).
    public var summary: String
    /// Runs the evaluation.
    public var run: () throws -> CheckpointEvaluation

    public init(summary: String, run: @escaping () throws -> CheckpointEvaluation) {
        self.summary = summary
        self.run = run
    }
}

/// Top-1, top-5 and cross-entropy of a finetuned classifier on `data.val_root`, with the
/// preprocessing the finetune validated with (resize, centre crop `data.eval_crop`) and its
/// batch size, so the numbers are the ones the finetune recorded for the same weights.
public struct ClassificationCheckpointEvaluator: CheckpointEvaluator {
    public init() {}

    public func prepare(
        recipe: TaskRecipe, checkpoint: URL, builder: ComponentBuilder, log: @escaping (String) -> Void
    ) throws -> PreparedEvaluation {
        let validationRoot = recipe.data.string("val_root")
        guard !validationRoot.isEmpty else {
            throw recipe.issue(
                at: "data.val_root",
                "evaluation needs a validation split: set data.val_root to a folder of class subfolders "
                    + "(or --set data.val_root=DIR)")
        }
        let classes = try classNames(recipe, log: log)
        guard let validation = try ClassifySetup.validationLoader(recipe: recipe, classes: classes) else {
            throw recipe.issue(at: "data.val_root", "data.val_root is empty")
        }
        let model = try ClassifySetup.makeModel(recipe: recipe, builder: builder, classCount: classes.count)
        let (stored, _) = try Checkpoint.loadWeights(checkpoint.path)
        let (weights, conversions) = WeightConversion.fit(stored, to: model)
        conversions.forEach { log("converted \($0)") }
        do {
            try model.load(stateDict: weights, strict: true)
        } catch let error as StateDictError {
            throw CheckpointEvaluationError.doesNotFit(path: checkpoint.path, detail: error.description)
        }
        model.train(false)
        return PreparedEvaluation(
            summary: "\(validation.samples.count) images of \(validationRoot) (\(classes.count) classes)"
        ) {
            let result = try ClassificationEvaluation.run(model, on: validation)
            return CheckpointEvaluation(
                metrics: [
                    .init(Classification.top1, value: result.top1), .init(Classification.top5, value: result.top5),
                    .init(Classification.loss, value: result.loss),
                ], images: result.images, split: validationRoot)
        }
    }

    /// The label order the finetune used: the class folders of `data.root`. When the training
    /// split is not on this machine, the validation split's folders (the same names when both
    /// splits have every class).
    private func classNames(_ recipe: TaskRecipe, log: (String) -> Void) throws -> [String] {
        let trainRoot = recipe.data.string("root")
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: trainRoot, isDirectory: &isDirectory), isDirectory.boolValue {
            return try ImageFolder(root: trainRoot).classes
        }
        let classes = try recipe.imageFolder("val_root").classes
        log(
            "note: the training split \(trainRoot) is not here; class order taken from the validation "
                + "split's \(classes.count) folders")
        return classes
    }
}

/// Why a checkpoint could not be evaluated.
public enum CheckpointEvaluationError: UserFacingError {
    /// The recipe's task has no checkpoint evaluator (pretraining).
    case nothingToEvaluate(task: String)
    case doesNotFit(path: String, detail: String)
    case wrongTask(path: String, checkpointTask: String, run: String?, recipeTask: String)

    public var what: String {
        switch self {
        case .nothingToEvaluate(let task):
            let evaluable = TaskCatalog.standard.tasks.filter { $0.checkpointEvaluator != nil }.map(\.name)
            return
                "the recipe's task is '\(task)', which has no checkpoint evaluation (eval --checkpoint measures "
                + "finetunes); give the recipe of a finetune (task: \(evaluable.joined(separator: ", "))) and one of "
                + "its checkpoints"
        case .doesNotFit(let path, let detail):
            return
                "\(path): \(detail)\nthe checkpoint was not written by a finetune of this recipe's model; "
                + "give the recipe the checkpoint was trained with (`mixmae runs show ID` prints it)"
        case .wrongTask(let path, let checkpointTask, let run, let recipeTask):
            let origin = run.map { "run \($0), task \(checkpointTask)" } ?? "task \(checkpointTask)"
            return
                "\(path) was written by a '\(checkpointTask)' run (\(origin)) but the recipe's task is "
                + "'\(recipeTask)': evaluate a checkpoint of a \(recipeTask) finetune "
                + "(run:ID or run:ID:best of one)"
        }
    }
}
