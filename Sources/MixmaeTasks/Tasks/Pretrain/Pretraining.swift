import MixKit
import MixmaePluginHost
import MixmaeRecipes

/// `task: pretrain`: MixMAE pretraining of a backbone with a decoder and a reconstruction
/// loss (``PretrainSetup``, ``PretrainTask``); it reads `mask`, measures `val_loss` on fixed
/// validation images and keeps no best checkpoint.
public struct Pretraining: TaskKind {
    public init() {}

    public var name: String { "pretrain" }
    public var summary: String { "MixMAE pretraining" }
    public var sections: [RecipeSchema.Entry] {
        [.section("mask", Self.maskSection, doc: "MixMAE mixing mask (task pretrain).")]
    }
    public var validationMetrics: [TaskMetric] { [TaskMetric(name: "val_loss", higherIsBetter: false)] }

    public func makeTraining(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> PreparedTraining
    {
        let (task, data) = try PretrainSetup.make(recipe: recipe, builder: builder, runDirectory: "")
        return PreparedTraining(task: task, data: data)
    }

    public static let maskSection: [ParameterSpec] = [
        .string(
            "mode", default: PretrainMode.mix.rawValue, allowed: PretrainMode.allCases.map(\.rawValue),
            doc:
                "`mix`: MixMAE (image i mixed with image B-1-i, both reconstructed); `mask_token`: the SimMIM-style baseline (one image per input, masked patches replaced by the backbone's learned [MASK] token, loss over them only)."
        ),
        .float(
            "ratio", default: 0.5, range: 0...1,
            doc:
                "Fraction of final-stage tokens (32x32-pixel units) taken from the partner image (mix) or masked (mask_token); 0 and 1 are allowed (see recipes/README.md)."
        ),
        .float(
            "extra_ratio", default: 0, range: 0...1,
            doc: "A random U(0, extra_ratio) added to the ratio for each batch (the reference's range_mask_ratio)."),
    ]
}
