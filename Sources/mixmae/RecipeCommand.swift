import ArgumentParser
import Foundation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks

/// `mixmae recipe`: resolve, print and validate recipes.
struct RecipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe",
        abstract: "Resolve, print and validate YAML recipes.",
        subcommands: [RecipeShowCommand.self, RecipeCheckCommand.self]
    )
}

/// `mixmae recipe show RECIPE [--set K=V ...] [--provenance] [--hash]`
struct RecipeShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the fully resolved recipe (bases merged, overrides applied).",
        discussion: """
            With --provenance every value carries a trailing comment naming the \
            file:line:column or the --set argument that set it.
            """
    )

    @OptionGroup var options: RecipeOptions

    @Flag(help: "Annotate each value with the file position or --set that set it.")
    var provenance = false

    @Flag(help: "Print only the SHA-256 of the resolved recipe's canonical form.")
    var hash = false

    func run() throws {
        let recipe = try options.load()
        print(hash ? recipe.hash : recipe.yaml(provenance: provenance), terminator: hash ? "\n" : "")
    }
}

/// `mixmae recipe check RECIPE [--set K=V ...] [--format table|json]`
struct RecipeCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a recipe against its task's sections and the plugins' schemas.",
        discussion: """
            Prints every problem as file:line:column: error: key.path: message, and exits \
            with status 1 if there is any.
            """
    )

    @OptionGroup var options: RecipeOptions
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    /// The JSON form of the check.
    struct Result: Encodable {
        struct Issue: Encodable {
            var at: String
            var path: String
            var kind: String
            var message: String
        }

        var recipe: String
        var sha256: String
        var ok: Bool
        var componentParametersChecked: Bool
        var issues: [Issue]
    }

    func run() throws {
        let recipe = try options.load()
        let checked = TaskCatalog.standard.check(recipe, components: pluginComponents())
        if !checked.checkedComponentParameters && !checked.components.isEmpty {
            let chosen = checked.components.sorted { $0.key.description < $1.key.description }
                .map { "\($0.key): \($0.value.id)" }.joined(separator: ", ")
            FileHandle.standardError.write(
                Data(("note: component parameters were not checked, no plugins are loaded (\(chosen))\n").utf8))
        }
        if output.json {
            try output.print(
                Result(
                    recipe: recipe.path, sha256: recipe.hash, ok: checked.issues.isEmpty,
                    componentParametersChecked: checked.checkedComponentParameters,
                    issues: checked.issues.map {
                        .init(
                            at: $0.mark.description, path: $0.path.description, kind: $0.kind.rawValue,
                            message: $0.message)
                    }))
        } else {
            for issue in checked.issues { print(issue) }
            if checked.issues.isEmpty {
                print("\(recipe.path): ok (sha256 \(recipe.hash))")
            } else {
                let n = checked.issues.count
                print("\(n) error\(n == 1 ? "" : "s") in \(recipe.path)")
            }
        }
        if !checked.issues.isEmpty { throw ExitCode.failure }
    }

    /// The components of the plugins in the registry; nil (with a warning) when the
    /// registry cannot be read, and then component parameters go unchecked.
    private func pluginComponents() -> ComponentCatalog? {
        do {
            return try plugins.catalog().componentCatalog
        } catch {
            FileHandle.standardError.write(Data("warning: plugins not loaded: \(error)\n".utf8))
            return nil
        }
    }
}
