import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeSupport

/// `mixmae plugins list [--format table|json]`: every registered component and every refused library.
struct PluginsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the components of the registered plugins, and the libraries refused with the reason."
    )

    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let catalog = try plugins.catalog()
        if output.json {
            try output.print(PluginsListCommand.listing(catalog))
        } else {
            print(PluginsListCommand.text(catalog))
        }
    }

    /// The table, then the full message of every refusal.
    static func text(_ catalog: PluginCatalog) -> String {
        var table = TextTable(["ID", "KIND", "VERSION", "LIBRARY", "STATUS"])
        for outcome in catalog.outcomes {
            switch outcome {
            case .success(let library):
                for c in library.components {
                    table.append([c.id, c.kind.rawValue, c.version, displayPath(library.path), "loaded"])
                }
                for c in library.communicators {
                    table.append([
                        c.id, ComponentKind.communicator.rawValue, c.version, displayPath(library.path), "loaded",
                    ])
                }
            case .failure(let refusal):
                let ids = refusal.componentIDs.isEmpty ? ["-"] : refusal.componentIDs
                for id in ids {
                    table.append([id, "-", "-", displayPath(refusal.library), "refused: \(refusal.summary)"])
                }
            }
        }
        let host = PluginABI.hostStamp()
        var lines = [
            "registry: \(catalog.registry.path) (host SDK \(host.sdkVersion), Swift \(host.compilerDescription))"
        ]
        if catalog.outcomes.isEmpty {
            lines.append("no plugin libraries are registered; add one with `mixmae plugins add PATH`")
        } else {
            let loaded = catalog.components.count + catalog.communicators.count
            lines.append(table.rendered())
            lines.append("")
            lines.append(
                "\(loaded) component\(loaded == 1 ? "" : "s") from \(catalog.libraries.count) "
                    + "librar\(catalog.libraries.count == 1 ? "y" : "ies"); \(catalog.refusals.count) refused")
        }
        if !catalog.refusals.isEmpty {
            lines.append("")
            lines.append("refused:")
            for refusal in catalog.refusals { lines.append("  - \(refusal)") }
        }
        return lines.joined(separator: "\n")
    }

    struct Listing: Codable {
        struct Host: Codable {
            var sdk: String
            var compiler: String
        }

        struct Component: Codable {
            var id: String
            var kind: String
            var version: String
            var license: String
            var summary: String
            var library: String
        }

        struct Refusal: Codable {
            var library: String
            var entry: String?
            var reason: String
            var message: String
            var components: [String]
        }

        var registry: String
        var host: Host
        var components: [Component]
        var refused: [Refusal]
    }

    static func listing(_ catalog: PluginCatalog) -> Listing {
        let host = PluginABI.hostStamp()
        return Listing(
            registry: catalog.registry.path, host: .init(sdk: host.sdkVersion, compiler: host.compilerDescription),
            components: catalog.components.map {
                .init(
                    id: $0.id, kind: $0.kind.rawValue, version: $0.version, license: $0.descriptor.license,
                    summary: $0.descriptor.summary, library: $0.library)
            }
                + catalog.communicators.map {
                    .init(
                        id: $0.descriptor.id, kind: ComponentKind.communicator.rawValue, version: $0.descriptor.version,
                        license: $0.descriptor.license, summary: $0.descriptor.summary, library: $0.library)
                },
            refused: catalog.refusals.map {
                .init(
                    library: $0.library, entry: $0.entry, reason: $0.summary, message: $0.description,
                    components: $0.componentIDs)
            })
    }
}
