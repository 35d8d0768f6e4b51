import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeRecipes
import MixmaeSupport

/// `mixmae plugins`: list, inspect, add and check plugin libraries.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
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
