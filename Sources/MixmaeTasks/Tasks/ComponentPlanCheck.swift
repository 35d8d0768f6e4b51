import Foundation
import MixKit
import MixmaeRecipes
import MixmaeSupport

/// The component checks `train` would meet while building the model, run on
/// the recipe alone: each component's ``ComponentDescriptor/validate``
/// (num_heads that do not divide a stage's channels, stage counts that
/// disagree, windows, decoder heads, img_size and patch_size, ...) with the
/// context `train` gives it (the backbone's or neck's outputs, the image
/// size), then whether the model fits in memory for even one image. Both
/// `recipe check` and `train` run it (through ``TaskCatalog/check(_:components:)``),
/// so they agree; nothing is allocated.
///
/// ```swift
/// let issues = ComponentPlanCheck.issues(checked, resolved: recipe, plan: catalog.plan!)
/// ```
enum ComponentPlanCheck {
    typealias Planner =
        @Sendable (ComponentKind, String, Parameters, BuildContext) throws -> ComponentPlan?

    /// Bytes per trainable parameter while training: weights, gradients and AdamW's two moments.
    static let bytesPerParameter = 16.0

    /// The slots in the order `train` builds them, each with the slot its inputs come from.
    static let slots: [(slot: String, kind: ComponentKind, inputsFrom: [String])] = [
        ("backbone", .backbone, []),
        ("neck", .neck, ["backbone"]),
        ("decoder", .decoder, ["backbone"]),
        ("head", .head, ["neck", "backbone"]),
        ("loss", .loss, ["backbone"]),
    ]

    static func issues(
        _ checked: CheckedRecipe, resolved: ResolvedRecipe, plan: Planner,
        memory: Double = Double(SystemMemory.physicalBytes)
    ) -> [RecipeIssue] {
        let imageSize = checked.sections[RecipePath([.key("data")])]?.int("img_size") ?? 224
        var outputs: [String: [FeatureSpec]] = [:]
        var plans: [(slot: String, plan: ComponentPlan)] = []
        for (slot, kind, sources) in slots {
            let path = RecipePath([.key("model"), .key(slot)])
            guard let choice = checked.components[path], let parameters = choice.parameters else { continue }
            let inputs = sources.lazy.compactMap { outputs[$0] }.first ?? []
            let context = BuildContext(inputs: inputs, imageSize: imageSize)
            do {
                guard let result = try plan(kind, choice.id, parameters, context) else { continue }
                if let emitted = result.outputs { outputs[slot] = emitted }
                plans.append((slot, result))
            } catch let error as ComponentConfigurationError {
                return [issue(error, slot: slot, resolved: resolved)]
            } catch {
                return [
                    RecipeIssue(
                        .outOfRange, at: resolved.node(at: path)?.mark ?? resolved.root.mark, path: path,
                        message: "\(error)")
                ]
            }
        }
        if let problem = memoryIssue(plans, resolved: resolved, memory: memory) { return [problem] }
        return []
    }

    /// A component's complaint as a recipe issue at its parameter's file:line:column.
    static func issue(_ error: ComponentConfigurationError, slot: String, resolved: ResolvedRecipe) -> RecipeIssue {
        let name = error.parameter.split(separator: "[").first.map(String.init) ?? error.parameter
        let parameterPath = RecipePath([.key("model"), .key(slot), .key(name)])
        let node =
            resolved.node(at: parameterPath) ?? resolved.node(at: RecipePath([.key("model"), .key(slot)]))
        return RecipeIssue(
            .outOfRange, at: node?.mark ?? resolved.root.mark,
            path: RecipePath([.key("model"), .key(slot), .key(error.parameter)]), message: error.problem)
    }

    /// An issue when training the model on one image needs more memory than the machine has.
    static func memoryIssue(
        _ plans: [(slot: String, plan: ComponentPlan)], resolved: ResolvedRecipe, memory: Double
    ) -> RecipeIssue? {
        let weights = plans.reduce(0) { $0 + $1.plan.parameterCount } * bytesPerParameter
        let activations = plans.reduce(0) { $0 + $1.plan.activationsPerImage } * 4
        let needed = weights + activations
        guard needed > memory, let largest = plans.max(by: { cost($0.plan) < cost($1.plan) }) else { return nil }
        let path = RecipePath([.key("model"), .key(largest.slot)])
        return RecipeIssue(
            .outOfRange, at: resolved.node(at: path)?.mark ?? resolved.root.mark, path: path,
            message: "the model needs about \(bytes(needed)) to train on a single image ("
                + "\(bytes(weights)) for \(count(weights / bytesPerParameter)) parameters with their gradients and "
                + "optimizer state, \(bytes(activations)) of activations), more than this machine's "
                + "\(bytes(memory)) of memory; the largest part is model.\(largest.slot): use a smaller "
                + "img_size, embed_dim or depth")
    }

    private static func cost(_ plan: ComponentPlan) -> Double {
        plan.parameterCount * bytesPerParameter + plan.activationsPerImage * 4
    }

    static func bytes(_ value: Double) -> String {
        for (size, unit) in [(0x1p50, "PiB"), (0x1p40, "TiB"), (0x1p30, "GiB"), (0x1p20, "MiB")] where value >= size {
            return String(format: "%.1f \(unit)", value / size)
        }
        return String(format: "%.0f KiB", value / 1024)
    }

    static func count(_ value: Double) -> String {
        for (size, unit) in [(1e9, "billion"), (1e6, "million")] where value >= size {
            return String(format: "%.1f \(unit)", value / size)
        }
        return String(format: "%.0f", value)
    }
}
