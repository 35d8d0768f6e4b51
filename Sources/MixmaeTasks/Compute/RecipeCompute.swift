import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeRecipes
import MixmaeSupport

/// The compute of one training step of a recipe, counted on the recipe's own
/// model and a first batch of its own data (random weights: the count does not
/// depend on them).
///
/// ```swift
/// let compute = try RecipeCompute.measure(try RecipeLoader().load("recipes/quickstart/pretrain.yaml"), catalog: catalog)
/// print(compute.count.forwardPerImage / 1e9, "GFLOP per image, forward")
/// ```
public struct RecipeCompute: Sendable {
    /// The recipe's task (`pretrain`, `classify`, ...).
    public var task: String
    /// Component ids by recipe slot (`model.backbone`: `swin`, ...).
    public var components: [String: String]
    /// The shape of the counted batch of images, `[B, C, H, W]`.
    public var imageShape: [Int]
    public var count: ComputeCount

    /// Builds the recipe's model and data loader, takes the first training
    /// batch and counts one step on it (an `optim.accum_steps` step: its micro-batches).
    public static func measure(_ resolved: ResolvedRecipe, catalog: PluginCatalog) throws -> RecipeCompute {
        let recipe = try TaskRecipe(resolved, components: catalog.componentCatalog)
        let builder = ComponentBuilder(provider: catalog, rng: RandomSource(seed: recipe.seed))
        let prepared = try recipe.task.makeTraining(recipe, builder: builder, initialWeights: nil)
        guard let batch = try prepared.data.batches(epoch: 0, skip: 0).next() else {
            throw InputError(
                "the training data gives no full batch of data.batch_size images",
                file: resolved.path, keyPath: "data.batch_size",
                hint: "lower data.batch_size (with --set data.batch_size=N) or add images")
        }
        // The loader gives one micro-batch of an optim.accum_steps step: the step is K of them.
        let microBatches = recipe.accumulationSteps
        var shape = batch.images.shape
        shape[0] *= microBatches
        return RecipeCompute(
            task: recipe.task.name,
            components: Dictionary(uniqueKeysWithValues: recipe.components.map { ("\($0.key)", $0.value.id) }),
            imageShape: shape,
            count: try ComputeCount.trainingStep(of: prepared.task, on: batch).scaled(by: microBatches))
    }
}
