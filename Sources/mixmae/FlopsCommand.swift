import ArgumentParser
import Foundation
import MixmaeSupport
import MixmaeTasks

/// `mixmae flops RECIPE [--set K=V ...] [--format table|json]`: the GFLOPs of
/// the recipe's model per image, forward, split into encoder and the rest, and
/// of one training step, forward and backward, counted on a batch of its data.
///
/// ```
/// mixmae flops recipes/quickstart/pretrain.yaml
/// mixmae flops recipes/quickstart/classify.yaml --set data.batch_size=8 --format json
/// ```
struct FlopsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flops",
        abstract: "Count the GFLOPs of a recipe's model: per image forward, and per training step.",
        discussion: """
            Builds the recipe's model (random weights) and data loader, takes the first training \
            batch and runs one step under the op counters: every GEMM-backed op (linear, batched \
            matmul, attention, convolution) counts 2 FLOPs per multiply-add; element-wise work \
            (norms, activations, softmax) is left out, as fvcore and the papers' tables do. Papers \
            quote multiply-adds as "FLOPs" (Swin-T: 4.5G at 224): half the numbers printed here. \
            The backward pass is counted, not estimated as 2x forward.
            """
    )

    @OptionGroup var recipe: RecipeOptions
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let compute = try RecipeCompute.measure(try recipe.load(), catalog: try plugins.catalog())
        let summary = Summary(compute, recipe: recipe.recipe)
        if output.json { return try output.print(summary) }
        let shape = compute.imageShape
        print(
            "\(recipe.recipe): \(compute.task), batch of \(shape[0]) images \(shape[2])x\(shape[3]) "
                + "(\(summary.components.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")))")
        var table = TextTable(["", "GFLOPs per image", "GFLOPs per step"], rightAligned: [1, 2])
        let g = { (flops: Double) in String(format: "%.4f", flops / 1e9) }
        let count = compute.count
        table.append(["forward: encoder", g(count.encoderForwardPerImage), g(count.encoderForward)])
        table.append([
            "forward: \(Self.restLabel(compute.task))", g(count.restForwardPerImage),
            g(count.forward - count.encoderForward),
        ])
        table.append(["forward", g(count.forwardPerImage), g(count.forward)])
        table.append(["backward", g(count.backward / Double(count.batchSize)), g(count.backward)])
        table.append(["training step", g(count.step / Double(count.batchSize)), g(count.step)])
        print(table.rendered())
        print(
            String(format: "backward = %.2fx forward; ", count.backwardRatio)
                + "GEMM work, 2 FLOPs per multiply-add (papers' \"FLOPs\" are multiply-adds: half)")
    }

    /// What the model adds to the backbone, by task.
    static func restLabel(_ task: String) -> String {
        switch task {
        case "pretrain": "decoder and loss"
        case "classify": "head"
        default: "neck and head"
        }
    }

    /// `--format json`: the counts in GFLOPs.
    struct Summary: Encodable {
        var recipe: String
        var task: String
        var components: [String: String]
        var batch: Int
        var imageShape: [Int]
        var encoderForwardPerImage: Double
        var restForwardPerImage: Double
        var forwardPerImage: Double
        var backwardPerImage: Double
        var forwardPerStep: Double
        var backwardPerStep: Double
        var gflopsPerStep: Double

        init(_ compute: RecipeCompute, recipe: String) {
            let c = compute.count
            let perImage = 1e-9 / Double(c.batchSize)
            self.recipe = recipe
            task = compute.task
            components = compute.components
            batch = c.batchSize
            imageShape = Array(compute.imageShape.dropFirst())
            encoderForwardPerImage = c.encoderForward * perImage
            restForwardPerImage = (c.forward - c.encoderForward) * perImage
            forwardPerImage = c.forward * perImage
            backwardPerImage = c.backward * perImage
            forwardPerStep = c.forward * 1e-9
            backwardPerStep = c.backward * 1e-9
            gflopsPerStep = c.step * 1e-9
        }

        enum CodingKeys: String, CodingKey {
            case recipe, task, components, batch
            case imageShape = "image_shape"
            case encoderForwardPerImage = "encoder_forward_gflops_per_image"
            case restForwardPerImage = "rest_forward_gflops_per_image"
            case forwardPerImage = "forward_gflops_per_image"
            case backwardPerImage = "backward_gflops_per_image"
            case forwardPerStep = "forward_gflops_per_step"
            case backwardPerStep = "backward_gflops_per_step"
            case gflopsPerStep = "gflops_per_step"
        }
    }
}
