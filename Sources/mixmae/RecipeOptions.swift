import ArgumentParser
import Foundation
import MixmaeRecipes

/// The recipe argument and its `--set` overrides, for every command that takes a recipe.
///
/// ```swift
/// struct Train: ParsableCommand {
///     @OptionGroup var recipe: RecipeOptions
///     func run() throws { let resolved = try recipe.load() }
/// }
/// ```
public struct RecipeOptions: ParsableArguments {
    @Argument(help: "The recipe file (YAML).")
    public var recipe: String

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a key after all files merge: KEY=VALUE, VALUE in YAML (1e-3, [2,2,6,2], {a: 1}, !delete). Repeatable.",
            valueName: "key=value"))
    public var overrides: [String] = []

    public init() {}

    /// Loads the recipe with its bases and overrides.
    public func load() throws -> ResolvedRecipe {
        try RecipeLoader().load(recipe, overrides: RecipeOverride.parse(overrides))
    }
}
