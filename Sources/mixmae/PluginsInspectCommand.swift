import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost

/// `mixmae plugins inspect ID`: a component's identity, parameter table and capabilities.
public struct PluginsInspectCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a component's summary, version, license, library, parameters and capabilities."
    )

    @OptionGroup public var registry: RegistryOptions

    @Argument(help: "The component id (see `mixmae plugins list`).")
    public var id: String

    public init() {}

    public func run() throws {
        let catalog = try registry.catalog()
        let component = try requireComponent(id, in: catalog)
        let stamp = catalog.libraries.first { $0.path == component.library }?.stamp
        print(PluginsInspectCommand.text(component, stamp: stamp))
    }

    static func text(_ component: PluginComponent, stamp: PluginStamp?) -> String {
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
