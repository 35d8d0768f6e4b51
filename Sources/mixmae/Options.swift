import ArgumentParser
import Foundation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeRuns
import MixmaeSupport

// The option groups the commands share: each option is defined once, here.

/// How a command prints its results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Tables and lines for people.
    case table
    /// One JSON document with everything the table shows, for scripts.
    case json
}

/// `--format table|json`, for every command that prints results.
///
/// ```swift
/// @OptionGroup var output: OutputOptions
/// if output.json { try output.print(runs) } else { print(table.rendered()) }
/// ```
struct OutputOptions: ParsableArguments {
    @Option(help: "table (for people) or json (for scripts: everything the table shows).")
    var format: OutputFormat = .table

    var json: Bool { format == .json }

    /// Prints `value` as JSON (``JSONOutput``).
    func print<T: Encodable>(_ value: T) throws {
        Swift.print(try JSONOutput.encode(value), terminator: "")
    }
}

/// `--home`: which run registry to open (default: $MIXMAE_HOME, else ./.mixmae).
struct HomeOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The run registry folder (default: $MIXMAE_HOME, else ./.mixmae).", valueName: "dir"))
    var home: String?

    func open(options: RunRegistry.Options = RunRegistry.Options()) throws -> RunRegistry {
        try RunRegistry(home: url, options: options)
    }

    /// The registry folder these options select.
    var url: URL {
        home.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath, isDirectory: true) }
            ?? RunRegistry.defaultHome()
    }
}

/// `--registry`: which plugin registry to load (default: $MIXMAE_REGISTRY, else
/// registry.yaml in the current directory or a parent).
struct PluginRegistryOptions: ParsableArguments {
    @Option(
        name: .customLong("registry"),
        help: ArgumentHelp(
            "The plugin registry file (default: $MIXMAE_REGISTRY, else registry.yaml in the current directory or a "
                + "parent).",
            valueName: "path"))
    var registry: String?

    /// The registry file these options select.
    var path: String { PluginRegistry.locate(explicit: registry) }

    /// The catalog of that registry, loaded once per process.
    func catalog() throws -> PluginCatalog { try PluginCatalog.shared(registry: path) }
}

/// `--set KEY=VALUE`: recipe overrides, applied after every file merges.
struct OverrideOptions: ParsableArguments {
    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a recipe key after all files merge: KEY=VALUE, VALUE in YAML (1e-3, [2,2,6,2], {a: 1}, "
                + "!delete). Repeatable.",
            valueName: "key=value"))
    var overrides: [String] = []

    func parsed() throws -> [RecipeOverride] { try RecipeOverride.parse(overrides) }
}

/// The recipe argument and its `--set` overrides, for every command that takes a recipe.
///
/// ```swift
/// struct Check: ParsableCommand {
///     @OptionGroup var recipe: RecipeOptions
///     func run() throws { let resolved = try recipe.load() }
/// }
/// ```
struct RecipeOptions: ParsableArguments {
    @Argument(help: "The recipe file (YAML).")
    var recipe: String

    @OptionGroup var overrides: OverrideOptions

    /// Loads the recipe with its bases and overrides.
    func load() throws -> ResolvedRecipe {
        try RecipeLoader().load(recipe, overrides: overrides.parsed())
    }
}
