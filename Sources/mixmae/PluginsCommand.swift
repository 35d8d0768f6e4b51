import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeRecipes
import MixmaeSupport

/// `mixmae plugins`: list, inspect, add and check plugin libraries.
public struct PluginsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List, inspect, register and check plugin libraries.",
        discussion: """
            The host loads the libraries listed in registry.yaml (found in the current \
            directory or a parent, or named by MIXMAE_REGISTRY or --registry).
            """,
        subcommands: [
            PluginsListCommand.self, PluginsInspectCommand.self, PluginsAddCommand.self, PluginsCheckCommand.self,
        ]
    )

    public init() {}
}

/// The `--registry` option every `plugins` subcommand takes.
public struct RegistryOptions: ParsableArguments {
    @Option(
        name: .customLong("registry"),
        help: ArgumentHelp(
            "The registry file (default: $MIXMAE_REGISTRY, else registry.yaml in the current directory or a parent).",
            valueName: "path"))
    public var registry: String?

    public init() {}

    /// The registry file these options select.
    public var path: String { PluginRegistry.locate(explicit: registry) }

    /// The catalog of that registry, loaded once per process.
    public func catalog() throws -> PluginCatalog { try PluginCatalog.shared(registry: path) }
}

/// A library path as the user reads it: relative to the current directory when inside it.
func displayPath(_ path: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath
    let prefix = cwd.hasSuffix("/") ? cwd : cwd + "/"
    return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
}

/// The component `id` of the catalog, or an error that says where it went:
/// a refused library, a close id, or the ids that exist.
func requireComponent(_ id: String, in catalog: PluginCatalog) throws -> PluginComponent {
    if let component = catalog.component(id) { return component }
    if let refusal = catalog.refusal(ofComponent: id) {
        throw InputError("'\(id)' is registered by a library that was refused: \(refusal)")
    }
    let ids = catalog.components.map(\.id)
    var message = "no loaded plugin provides '\(id)'"
    message += ids.isEmpty ? "; no components are loaded" : "; loaded: " + ids.joined(separator: ", ")
    message += Suggestions.didYouMean(Suggestions.closest(to: id, among: ids))
    message += " (registry: \(catalog.registry.path)"
    if !catalog.refusals.isEmpty {
        message +=
            "; \(catalog.refusals.count) librar\(catalog.refusals.count == 1 ? "y" : "ies") refused, "
            + "see `mixmae plugins list`"
    }
    throw InputError(message + ")")
}
