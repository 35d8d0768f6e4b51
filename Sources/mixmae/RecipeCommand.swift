import ArgumentParser
import Foundation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks

/// `mixmae recipe`: resolve, print and validate recipes.
public struct RecipeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "recipe",
        abstract: "Resolve, print and validate YAML recipes.",
        subcommands: [RecipeShowCommand.self, RecipeCheckCommand.self]
    )

    public init() {}
}

/// `mixmae recipe show RECIPE [--set K=V ...] [--provenance] [--hash]`
public struct RecipeShowCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the fully resolved recipe (bases merged, overrides applied).",
        discussion: """
            With --provenance every value carries a trailing comment naming the \
            file:line:column or the --set argument that set it.
            """
    )

    @OptionGroup public var options: RecipeOptions

    @Flag(help: "Annotate each value with the file position or --set that set it.")
    public var provenance = false

    @Flag(help: "Print only the SHA-256 of the resolved recipe's canonical form.")
    public var hash = false

    public init() {}

    public func run() throws {
        let recipe = try options.load()
        print(hash ? recipe.hash : recipe.yaml(provenance: provenance), terminator: hash ? "\n" : "")
    }
}

/// `mixmae recipe check RECIPE [--set K=V ...]`
public struct RecipeCheckCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a recipe against the host's sections and the plugins' schemas.",
        discussion: """
            Prints every problem as file:line:column: error: key.path: message, and exits \
            with status 1 if there is any.
            """
    )

    @OptionGroup public var options: RecipeOptions

    public init() {}

    public func run() throws {
        let recipe = try options.load()
        let checked = TaskCatalog.standard.check(recipe, components: pluginComponents())
        for issue in checked.issues { print(issue) }
        if !checked.checkedComponentParameters && !checked.components.isEmpty {
            let chosen = checked.components.sorted { $0.key.description < $1.key.description }
                .map { "\($0.key): \($0.value.id)" }.joined(separator: ", ")
            FileHandle.standardError.write(
                Data(
                    ("note: component parameters were not checked, no plugins are loaded (\(chosen))\n")
                        .utf8))
        }
        if !checked.issues.isEmpty {
            let n = checked.issues.count
            print("\(n) error\(n == 1 ? "" : "s") in \(recipe.path)")
            throw ExitCode.failure
        }
        print("\(recipe.path): ok (sha256 \(recipe.hash))")
    }

    /// The components of the plugins in the registry; nil (with a warning) when the
    /// registry cannot be read, and then component parameters go unchecked.
    private func pluginComponents() -> ComponentCatalog? {
        do {
            return try PluginCatalog.shared().componentCatalog
        } catch {
            FileHandle.standardError.write(Data("warning: plugins not loaded: \(error)\n".utf8))
            return nil
        }
    }
}
