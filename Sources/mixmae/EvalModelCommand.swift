import ArgumentParser
import Foundation
import MixmaePluginHost
import MixmaeReports
import MixmaeRuns
import MixmaeSupport
import MixmaeTasks

/// `mixmae eval [model] RECIPE --checkpoint REF [--set K=V ...] [--format table|json]`: the default
/// subcommand of `mixmae eval`.
struct EvalModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Evaluate a finetuned checkpoint on its recipe's validation split and record an eval run.",
        discussion: """
            The default subcommand: `mixmae eval RECIPE --checkpoint REF` runs it. REF is run:ID (that \
            run's last checkpoint), run:ID:best, sha256:PREFIX or a file; it is resolved and its hash \
            verified through the run registry, as a recipe's init.weights are. The model the recipe \
            describes is built, the checkpoint loaded into it (every tensor must fit), and evaluated \
            on data.val_root with the finetune's validation preprocessing: top-1, top-5 and loss for \
            classification. The evaluation is recorded as a run with task `eval` that used the \
            checkpoint (role eval.checkpoint), so `mixmae lineage run:ID --down` shows it.
            """
    )

    @OptionGroup var recipe: RecipeOptions

    @Option(help: ArgumentHelp("The checkpoint: run:ID, run:ID:best, sha256:PREFIX or a path.", valueName: "ref"))
    var checkpoint: String

    @OptionGroup var home: HomeOptions
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let reference = try WeightsReference(parsing: checkpoint)
        let resolved = try recipe.load()
        let session = EvaluationSession(catalog: try plugins.catalog(), registry: try home.open())
        session.endHooks = .standard
        let result = try session.evaluate(resolved, checkpoint: reference)
        if output.json {
            struct Document: Encodable {
                let run: RunID
                let task: String
                let checkpoint: String
                let sha256: String
                let split: String
                let images: Int
                let seconds: Double
                let metrics: [String: Double]
            }
            let evaluation = result.evaluation
            return try output.print(
                Document(
                    run: result.runID, task: result.task.name, checkpoint: reference.description,
                    sha256: result.checkpoint.artifact.sha256, split: evaluation.split, images: evaluation.images,
                    seconds: result.seconds,
                    metrics: Dictionary(uniqueKeysWithValues: evaluation.metrics.map { ($0.name, $0.value) })))
        }
        let evaluation = result.evaluation
        print(
            "run \(result.runID) (eval): \(result.task.name) checkpoint \(reference) "
                + "(sha256:\(result.checkpoint.artifact.shortHash)) on \(displayPath(evaluation.split)), "
                + "\(evaluation.images) images, \(formatDuration(result.seconds))")
        let width = evaluation.metrics.map(\.label.count).max() ?? 0
        for metric in evaluation.metrics {
            let padding = String(repeating: " ", count: width - metric.label.count)
            print("  \(metric.label)\(padding)  \(String(format: "%.4f", metric.value))")
        }
    }
}
