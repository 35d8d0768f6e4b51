import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks

/// `mixmae bench detect RECIPE [--steps K] [--warmup W] [--set KEY=VALUE] [--format table|json]`
///
/// ```
/// MIXMAE_PROFILE=1 mixmae bench detect recipes/quickstart/mask-rcnn.yaml --set data.root=quickstart/data/detection
/// ```
struct BenchDetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Time training steps of a detection recipe (FCOS or Mask R-CNN) on its own data.",
        discussion: """
            Builds the recipe's model and training loader as `train` does (from scratch: init.weights \
            is not read), then times --steps full steps (loss, backward, AdamW) after --warmup untimed \
            ones, each on the loader's next batch (read outside the timing). Prints the median images/s; \
            with MIXMAE_PROFILE=1 also the per-op profile of the timed steps (time outside any op is the \
            heads' own target assignment, sampling and proposal code).
            """
    )

    @OptionGroup var recipe: RecipeOptions
    @Option(help: "Timed steps.") var steps = 5
    @Option(help: "Untimed steps first.") var warmup = 1
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more, got \(warmup)") }
    }

    func run() throws {
        let catalog = try plugins.catalog()
        let checked = try TaskRecipe(try recipe.load(), components: catalog.componentCatalog)
        guard checked.task.name == "detect" else {
            throw ValidationError(
                "\(recipe.recipe) is a '\(checked.task.name)' recipe; bench detect takes task: detect")
        }
        let profile = ProcessInfo.processInfo.environment["MIXMAE_PROFILE"] == "1"
        let json = output.json
        let result = try DetectionStepBenchmark.run(
            recipe: checked, builder: ComponentBuilder(provider: catalog, rng: RandomSource(seed: checked.seed)),
            steps: steps, warmup: warmup, profile: profile
        ) { line in if !json { FileHandle.standardError.write(Data((line + "\n").utf8)) } }
        if let report = result.profile { FileHandle.standardError.write(Data((report + "\n").utf8)) }
        if json {
            let object: [String: Any] = [
                "recipe": recipe.recipe, "batch": result.batchSize, "steps": steps,
                "median_step_seconds": result.medianSeconds, "images_per_second": result.imagesPerSecond,
                "threads": Parallel.threadCount,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(
                "\(recipe.recipe): batch \(result.batchSize), median step "
                    + String(
                        format: "%.1f ms over %d steps: %.1f images/s", result.medianSeconds * 1000, steps,
                        result.imagesPerSecond) + " (\(Parallel.threadCount) threads)")
        }
    }
}
