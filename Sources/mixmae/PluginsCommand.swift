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
