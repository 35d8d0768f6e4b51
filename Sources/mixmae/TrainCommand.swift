import ArgumentParser
import Foundation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeReports
import MixmaeSupport
import MixmaeTasks

/// `mixmae train RECIPE [--set K=V ...]` and `mixmae train --resume ID`.
public struct TrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train what a recipe describes (MixMAE pretraining or a finetune) and record it in the run registry.",
        discussion: """
            Validates the recipe against the plugins' schemas first and reports every mistake. \
            The run gets an id and a folder under $MIXMAE_HOME/runs/<id>/ (checkpoints with the \
            reference parameter names, optimizer state, pictures, the resolved recipe). Ctrl-C \
            finishes the current step, saves, and marks the run KILLED; continue it with \
            `mixmae train --resume ID`, which gives the same weights as an uninterrupted run.
            """
    )

    @Argument(help: "The recipe file (YAML); not used with --resume.")
    public var recipe: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a recipe key: KEY=VALUE (YAML value). Repeatable.", valueName: "key=value"))
    public var overrides: [String] = []

    @Option(help: "Continue this run from its last checkpoint, with the recipe stored at its start.")
    public var resume: Int64?

    @OptionGroup var location: RegistryLocation

    @Option(help: "The plugin registry (default: $MIXMAE_REGISTRY or ./registry.yaml).")
    public var registry: String?

    @Option(help: .hidden)
    public var stopAfterSteps: Int?

    public init() {}

    public func validate() throws {
        if resume == nil && recipe == nil { throw ValidationError("give a recipe, or --resume RUN_ID") }
        if resume != nil && (recipe != nil || !overrides.isEmpty) {
            throw ValidationError("--resume continues with the run's stored recipe: drop the recipe and --set")
        }
    }

    public func run() throws {
        let session = TrainingSession(
            catalog: try PluginCatalog.shared(registry: registry), registry: try location.open())
        session.stopAfterSteps = stopAfterSteps
        session.endHooks = .standard
        let result: TrainingSession.Result
        if let resume {
            result = try session.resume(resume)
        } else {
            let resolved = try RecipeLoader().load(recipe!, overrides: RecipeOverride.parse(overrides))
            result = try session.start(resolved)
        }
        TrainCommand.printSummary(result)
    }

    static func printSummary(_ result: TrainingSession.Result) {
        let metrics = result.summary.finalMetrics.sorted { $0.key < $1.key }
            .map { "\($0.key) \(String(format: "%.4g", $0.value))" }.joined(separator: ", ")
        print(
            "run \(result.runID) (\(result.task.name)) finished in \(formatDuration(result.summary.seconds)), \(result.summary.steps) steps"
        )
        print("  metrics: \(metrics)")
        print("  last checkpoint: \(result.summary.lastCheckpoint)")
        if let best = result.summary.bestCheckpoint { print("  best checkpoint: \(best)") }
    }
}

/// `mixmae rerun ID`: the stored resolved recipe of a run, trained again as a new run linked to it.
public struct RerunCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rerun",
        abstract: "Train a recorded run's exact resolved recipe again, as a new run linked to the old one."
    )

    @Argument(help: "The run to re-execute.")
    public var runID: Int64

    @OptionGroup var location: RegistryLocation

    @Option(help: "The plugin registry (default: $MIXMAE_REGISTRY or ./registry.yaml).")
    public var registry: String?

    public init() {}

    public func run() throws {
        let runs = try location.open()
        let stored = try runs.recipe(ofRun: runID)
        let resolved = try RecipeLoader().load(text: stored.text, as: "run \(runID) recipe")
        let session = TrainingSession(catalog: try PluginCatalog.shared(registry: registry), registry: runs)
        session.endHooks = .standard
        TrainCommand.printSummary(try session.start(resolved, rerunOf: runID))
    }
}
