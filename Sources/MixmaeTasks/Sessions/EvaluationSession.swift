import Foundation
import MixKit
import MixmaePluginHost
import MixmaeRecipes
import MixmaeRuns

/// One `mixmae eval RECIPE --checkpoint REF`: resolves and verifies the checkpoint through
/// the registry (as initial weights are), evaluates it on the recipe's validation split with
/// the evaluator of the recipe's task, and records an evaluation run: task `eval`, the
/// metrics, and the checkpoint as a used artifact in role `eval.checkpoint`, so
/// `mixmae lineage --down` from the finetune shows the evaluation.
///
/// ```swift
/// let session = EvaluationSession(catalog: try PluginCatalog.shared(), registry: try RunRegistry())
/// let result = try session.evaluate(
///     try RecipeLoader().load("cls.yaml"), checkpoint: try WeightsReference(parsing: "run:2:best"))
/// print(result.runID, result.evaluation.metrics)
/// ```
public final class EvaluationSession {
    public let catalog: PluginCatalog
    public let registry: RunRegistry
    /// Progress lines go here.
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// What runs after the evaluation run is recorded: nothing by default; the command line
    /// adds `RunEndHooks.standard` (its curves).
    public var endHooks = RunEndHooks(hooks: [])

    public init(catalog: PluginCatalog, registry: RunRegistry) {
        self.catalog = catalog
        self.registry = registry
    }

    /// What an evaluation recorded.
    public struct Result {
        /// The evaluation run.
        public var runID: RunID
        /// The task kind of the evaluated model.
        public var task: any TaskKind
        /// The verified checkpoint.
        public var checkpoint: ResolvedWeights
        public var evaluation: CheckpointEvaluation
        /// The step the metrics were logged at: the checkpoint's training step when it
        /// records one, so they line up with the finetune's own curves; else 0.
        public var step: Int64
        public var seconds: Double
    }

    /// Evaluates the checkpoint `reference` names with recipe `resolved` and records the run.
    ///
    /// Nothing is recorded when the recipe, the task kind, the reference or the checkpoint is
    /// wrong (the model is built and loaded first); a failure during the evaluation itself (an
    /// unreadable image) leaves a FAILED eval run with the error.
    public func evaluate(_ resolved: ResolvedRecipe, checkpoint reference: WeightsReference) throws -> Result {
        let started = Date()
        let recipe = try TaskRecipe(resolved, components: catalog.componentCatalog)
        guard let evaluator = recipe.task.checkpointEvaluator else {
            throw CheckpointEvaluationError.nothingToEvaluate(task: recipe.task.name)
        }
        let weights = try registry.resolveWeightsImporting(reference, log: log)
        let metadata = try SafeTensorsFile(path: weights.url.path).metadata
        if let written = metadata["mixmae.task"], written != recipe.task.name {
            throw CheckpointEvaluationError.wrongTask(
                path: weights.url.path, checkpointTask: written, run: metadata["mixmae.run"],
                recipeTask: recipe.task.name)
        }
        let step = metadata["mixmae.step"].flatMap { Int64($0) } ?? 0
        // Everything bad input can break happens before the run is recorded.
        let prepared = try evaluator.prepare(
            recipe: recipe, checkpoint: weights.url,
            builder: ComponentBuilder(provider: catalog, rng: RandomSource(seed: recipe.seed)), log: log)
        let run = try registry.beginRun(
            task: "eval", recipe: RecipeSnapshot(text: resolved.yaml(provenance: false), sha256: resolved.hash),
            seed: recipe.seed, plugins: try catalog.pluginRecords(for: recipe),
            tags: ["eval.task": recipe.task.name, "eval.checkpoint": reference.description])
        log(
            "run \(run.id): evaluating \(recipe.task.name) checkpoint \(reference) "
                + "(\(weights.url.path), sha256 \(weights.artifact.shortHash))")
        do {
            try run.recordUsed(weights.artifact, role: .evalCheckpoint, path: weights.url.path)
            try recipe.resolved.yaml(provenance: true).write(
                to: run.outputDirectory.appendingPathComponent("recipe.yaml"), atomically: true, encoding: .utf8)
            log("evaluating \(prepared.summary)")
            let evaluation = try prepared.run()
            try run.log(
                evaluation.metrics.map { MetricSample(step: step, name: $0.name, value: $0.value) })
            try run.setTag("eval.split", evaluation.split)
            try run.setTag("eval.images", String(evaluation.images))
            try end(run, .finished)
            return Result(
                runID: run.id, task: recipe.task, checkpoint: weights, evaluation: evaluation, step: step,
                seconds: Date().timeIntervalSince(started))
        } catch {
            try? end(run, .failed("\(error)"))
            throw error
        }
    }

    private func end(_ run: ActiveRun, _ outcome: RunOutcome) throws {
        try run.finish(outcome)
        endHooks.run(after: run.id, registry: registry, log: log)
    }
}
