import ArgumentParser
import Foundation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeReports
import MixmaeRuns
import MixmaeSupport
import MixmaeTasks

/// `mixmae train RECIPE [--set K=V ...]` and `mixmae train --resume RUN`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train what a recipe describes (MixMAE pretraining or a finetune) and record it in the run registry.",
        discussion: """
            Validates the recipe against the plugins' schemas first and reports every mistake. \
            The run gets an id and a folder under $MIXMAE_HOME/runs/<id>/ (checkpoints with the \
            reference parameter names, optimizer state, pictures, the resolved recipe). Ctrl-C \
            (SIGINT) or SIGTERM finishes the current step, saves, marks the run KILLED and exits \
            with 130 or 143; continue it with `mixmae train --resume RUN`, which gives the same \
            weights as an uninterrupted run.
            """
    )

    @Argument(help: "The recipe file (YAML); not used with --resume.")
    var recipe: String?

    @OptionGroup var overrides: OverrideOptions

    @Option(
        help: ArgumentHelp(
            "Continue this run (12, run:12) from its last checkpoint, with the recipe stored at its start.",
            valueName: "run"))
    var resume: String?

    @OptionGroup var home: HomeOptions
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    @Option(
        name: .customLong("tag"),
        help: ArgumentHelp(
            "Record a tag with the new run: KEY=VALUE (`runs show` lists them; `mixmae sweep` tags its runs). Repeatable.",
            valueName: "key=value"))
    var tags: [String] = []

    @Option(help: .hidden)
    var stopAfterSteps: Int?

    func validate() throws {
        if resume == nil && recipe == nil { throw ValidationError("give a recipe, or --resume RUN") }
        if resume != nil && (recipe != nil || !overrides.overrides.isEmpty || !tags.isEmpty) {
            throw ValidationError(
                "--resume continues with the run's stored recipe and tags: drop the recipe, --set and --tag")
        }
        for tag in tags where !tag.contains("=") || tag.hasPrefix("=") {
            throw ValidationError("--tag \(tag): write KEY=VALUE")
        }
    }

    func run() throws {
        let session = TrainingSession(catalog: try plugins.catalog(), registry: try home.open())
        session.stopAfterSteps = stopAfterSteps
        session.endHooks = .standard
        session.runTags = Dictionary(
            tags.map { tag in
                let equals = tag.firstIndex(of: "=")!
                return (String(tag[..<equals]), String(tag[tag.index(after: equals)...]))
            }, uniquingKeysWith: { $1 })
        do {
            try train(session)
        } catch {
            try ProcessGroupExit.handle(error, communicator: session.communicator)
        }
    }

    private func train(_ session: TrainingSession) throws {
        let result: TrainingSession.Result
        if let resume {
            let run = try RunReference(parsing: resume)
            if run.checkpoint == .best {
                throw RegistryError.badReference(
                    resume, reason: "a run continues from its last checkpoint; write \(run.runID) or run:\(run.runID)")
            }
            result = try session.resume(run.runID)
        } else {
            result = try session.start(try RecipeLoader().load(recipe!, overrides: overrides.parsed()))
        }
        if session.communicator?.rank ?? 0 == 0 { try TrainingSummary(result).print(output) }
    }
}

/// `mixmae rerun RUN`: the stored resolved recipe of a run, trained again as a new run linked to it.
struct RerunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerun",
        abstract: "Train a recorded run's exact resolved recipe again, as a new run linked to the old one."
    )

    @Argument(help: ArgumentHelp("The run to train again (12, run:12).", valueName: "run"))
    var reference: String

    @OptionGroup var home: HomeOptions
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let id = try RunReference(parsing: reference).runID
        let runs = try home.open()
        if try runs.run(id)?.task == CheckpointImport.task {
            throw try CheckpointImport.rerunRefusal(of: id, registry: runs)
        }
        let stored = try runs.recipe(ofRun: id)
        let resolved = try RecipeLoader().load(text: stored.text, as: "run \(id) recipe")
        let session = TrainingSession(catalog: try plugins.catalog(), registry: runs)
        session.endHooks = .standard
        try TrainingSummary(try session.start(resolved, rerunOf: id)).print(output)
    }
}

/// What `train` and `rerun` print when a run finished.
struct TrainingSummary: Encodable {
    var run: RunID
    var task: String
    var seconds: Double
    var steps: Int
    var metrics: [String: Double]
    var lastCheckpoint: String
    var bestCheckpoint: String?

    init(_ result: TrainingSession.Result) {
        run = result.runID
        task = result.task.name
        seconds = result.summary.seconds
        steps = result.summary.steps
        metrics = result.summary.finalMetrics
        lastCheckpoint = result.summary.lastCheckpoint
        bestCheckpoint = result.summary.bestCheckpoint
    }

    func print(_ output: OutputOptions) throws {
        if output.json { return try output.print(self) }
        let values = metrics.sorted { $0.key < $1.key }
            .map { "\($0.key) \(String(format: "%.4g", $0.value))" }.joined(separator: ", ")
        Swift.print("run \(run) (\(task)) finished in \(formatDuration(seconds)), \(steps) steps")
        Swift.print("  metrics: \(values)")
        Swift.print("  last checkpoint: \(lastCheckpoint)")
        if let bestCheckpoint { Swift.print("  best checkpoint: \(bestCheckpoint)") }
    }
}
