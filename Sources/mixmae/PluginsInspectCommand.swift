import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeSupport

/// `mixmae plugins inspect ID [--format table|json]`: a component's identity, parameter table and capabilities.
struct PluginsInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a component's summary, version, license, library, parameters and capabilities."
    )

    @OptionGroup var plugins: PluginRegistryOptions

    @Argument(help: "The component id (see `mixmae plugins list`).")
    var id: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let catalog = try plugins.catalog()
        let component = try catalog.requireComponent(id)
        let stamp = catalog.libraries.first { $0.path == component.library }?.stamp
        let maskToken = MaskTokenSupport.isSupported(
            by: component, parameters: Parameters(defaultsOf: component.descriptor.parameters))
        if output.json {
            var inspection = Inspection(component, stamp: stamp)
            inspection.maskToken = maskToken
            try output.print(inspection)
        } else {
            print(PluginsInspectCommand.text(component, stamp: stamp, maskToken: maskToken))
        }
    }

    /// The JSON form: everything the text shows.
    struct Inspection: Encodable {
        struct Parameter: Encodable {
            var name: String
            var type: String
            var `default`: String?
            var constraint: String?
            var required: Bool
            var doc: String
        }

        struct FeatureMap: Encodable {
            var stride: Int
            var channels: Int
            var grid: Int
        }

        struct Capabilities: Encodable {
            var inputChannels: Int
            var imageSize: Int
            var supportsMixing: Bool
            var featureMaps: [FeatureMap]
        }

        var id: String
        var version: String
        var kind: String
        var summary: String
        var license: String
        var library: String
        var builtWith: PluginsListCommand.Listing.Host?
        var parameters: [Parameter]
        /// With the default parameters.
        var capabilities: Capabilities?
        /// Whether it supports `mask.mode: mask_token` (built with the default parameters;
        /// absent for kinds that play no part in pretraining and parts that need parameters).
        var maskToken: Bool?

        enum CodingKeys: String, CodingKey {
            case id, version, kind, summary, license, library, builtWith, parameters, capabilities
            case maskToken = "mask_token"
        }

        init(_ component: PluginComponent, stamp: PluginStamp?) {
            let d = component.descriptor
            id = d.id
            version = d.version
            kind = d.kind.rawValue
            summary = d.summary
            license = d.license
            library = component.library
            builtWith = stamp.map { .init(sdk: $0.sdkVersion, compiler: $0.compilerDescription) }
            parameters = d.parameters.map { spec in
                let constraint = PluginsInspectCommand.constraintText(spec)
                return Parameter(
                    name: spec.name, type: PluginsInspectCommand.typeText(spec),
                    default: spec.defaultValue?.description,
                    constraint: constraint == "-" ? nil : constraint, required: spec.isRequired, doc: spec.doc)
            }
            capabilities = d.capabilities.map { declare in
                let caps = declare(Parameters(defaultsOf: d.parameters))
                return Capabilities(
                    inputChannels: caps.inputChannels, imageSize: caps.imageSize, supportsMixing: caps.supportsMixing,
                    featureMaps: caps.outputs.map {
                        FeatureMap(stride: $0.stride, channels: $0.channels, grid: caps.imageSize / max($0.stride, 1))
                    })
            }
        }
    }

    /// The text form; `maskToken` as ``MaskTokenSupport/isSupported(by:parameters:)`` found
    /// it with the default parameters (nil: not a pretraining part, or it needs parameters).
    static func text(_ component: PluginComponent, stamp: PluginStamp?, maskToken: Bool? = nil) -> String {
        let d = component.descriptor
        var lines = [
            "\(d.id) \(d.version)", "  \(d.summary)", "",
            "Component",
        ]
        var facts = TextTable()
        facts.append(["Kind", d.kind.rawValue])
        facts.append(["Version", d.version])
        facts.append(["License", d.license])
        facts.append(["Library", component.library])
        if let stamp { facts.append(["Built with", "SDK \(stamp.sdkVersion), Swift \(stamp.compilerDescription)"]) }
        if MaskTokenSupport.requirement(for: d.kind) != nil {
            let verdict =
                maskToken.flatMap { MaskTokenSupport.verdict($0, kind: d.kind) }
                ?? "unknown: does not build with the default parameters (`mixmae plugins check \(d.id)` says more)"
            facts.append(["mask.mode mask_token", verdict])
        }
        lines.append(facts.rendered(indent: 2))
        lines += ["", "Parameters (\(d.parameters.count))"]
        if d.parameters.isEmpty {
            lines.append("  none")
        } else {
            var table = TextTable(["NAME", "TYPE", "DEFAULT", "RANGE / ALLOWED", "REQUIRED", "DOC"])
            for spec in d.parameters {
                table.append([
                    spec.name, typeText(spec), spec.defaultValue?.description ?? "-", constraintText(spec),
                    spec.isRequired ? "yes" : "no", spec.doc,
                ])
            }
            lines.append(table.rendered(indent: 2))
        }
        if let capabilities = d.capabilities {
            let caps = capabilities(Parameters(defaultsOf: d.parameters))
            lines += ["", "Capabilities (with the default parameters)"]
            var table = TextTable()
            table.append(["Input", "\(caps.inputChannels) channels, \(caps.imageSize)x\(caps.imageSize) pixels"])
            table.append(["Supports mixing", caps.supportsMixing ? "yes" : "no"])
            lines.append(table.rendered(indent: 2))
            lines.append("  Feature maps")
            var maps = TextTable(["STRIDE", "CHANNELS", "GRID"])
            for spec in caps.outputs {
                let side = caps.imageSize / max(spec.stride, 1)
                maps.append(["\(spec.stride)", "\(spec.channels)", "\(side)x\(side)"])
            }
            lines.append(maps.rendered(indent: 4))
        }
        return lines.joined(separator: "\n")
    }

    /// `int`, `list[int]` or `list[int] x4` (a list of fixed length).
    static func typeText(_ spec: ParameterSpec) -> String {
        spec.count.map { "\(spec.type) x\($0)" } ?? spec.type.rawValue
    }

    /// `16 ... 4096`, `gelu | relu`, or `-`.
    static func constraintText(_ spec: ParameterSpec) -> String {
        if let allowed = spec.allowedValues { return allowed.joined(separator: " | ") }
        guard let range = spec.range else { return "-" }
        func number(_ v: Double) -> String {
            if spec.type == .int || spec.type == .intList, v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
            return ParameterValue.float(v).description
        }
        return "\(number(range.lowerBound)) ... \(number(range.upperBound))"
    }
}
