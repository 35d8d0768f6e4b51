import MixKit
import MixmaePluginHost
import MixmaeRecipes

/// `task: classify`: classification finetuning of a backbone with a head (``ClassifySetup``,
/// ``ClassifyTask``); it reads `finetune` and `init`, measures top-1, top-5 and the loss on
/// `data.val_root`, and keeps the checkpoint with the best top-1.
public struct Classification: TaskKind {
    public init() {}

    public static let top1 = TaskMetric(name: "top1", label: "top-1")
    public static let top5 = TaskMetric(name: "top5", label: "top-5")
    public static let loss = TaskMetric(name: "val_loss", label: "loss", higherIsBetter: false)

    public var name: String { "classify" }
    public var summary: String { "classification finetuning" }
    public var sections: [RecipeSchema.Entry] {
        [
            .section("finetune", Self.finetuneSection, doc: "Label smoothing, mixup and cutmix (task classify)."),
            TaskSections.initialization,
        ]
    }
    public var validationMetrics: [TaskMetric] { [Self.top1, Self.top5, Self.loss] }
    public var selectionMetric: TaskMetric? { Self.top1 }
    public var checkpointEvaluator: (any CheckpointEvaluator)? { ClassificationCheckpointEvaluator() }

    public func makeTraining(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> PreparedTraining
    {
        let (task, data, report) = try ClassifySetup.make(
            recipe: recipe, builder: builder, initialWeights: initialWeights)
        return PreparedTraining(task: task, data: data, initialWeights: report)
    }

    public static let finetuneSection: [ParameterSpec] = [
        .float("label_smoothing", default: 0.1, range: 0...1, doc: "Label smoothing of the targets."),
        .float("mixup", default: 0.8, range: 0...100, doc: "Mixup Beta(alpha, alpha) parameter; 0 = off."),
        .float("cutmix", default: 1.0, range: 0...100, doc: "CutMix Beta(alpha, alpha) parameter; 0 = off."),
        .float("mix_prob", default: 1.0, range: 0...1, doc: "Probability of applying mixup or cutmix to a batch."),
        .float(
            "switch_prob", default: 0.5, range: 0...1,
            doc: "Probability of cutmix instead of mixup when both are on."),
    ]
}
