import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeSupport

/// `mixmae plugins check ID`: build with defaults, forward, backward, finite differences, report.
struct PluginsCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Build a component with its defaults, run forward and backward, and spot-check gradients.",
        discussion: """
            Runs the component's probe (a forward pass on a deterministic dummy input of the \
            declared shape, reduced to a scalar) in evaluation mode, backpropagates, checks a \
            backbone's feature maps against its declared capabilities, and compares the \
            gradients of a few parameter elements with finite differences at two step sizes, \
            allowing for the float32 rounding noise it measures. Exits with status 1 if \
            anything fails.
            """
    )

    @OptionGroup var plugins: PluginRegistryOptions

    @Argument(help: "The component id (see `mixmae plugins list`).")
    var id: String

    @Option(help: "How many parameter tensors to spot-check.")
    var tensors = 4

    @Option(help: "How many elements of each tensor to spot-check.")
    var elements = 3

    func run() throws {
        let component = try plugins.catalog().requireComponent(id)
        var check = ComponentCheck()
        check.parameterCount = max(1, tensors)
        check.elementsPerParameter = max(1, elements)
        print("checking \(component.id) \(component.version) (\(component.kind)) from \(component.library)")
        let report = check.run(component) { step in
            FileHandle.standardError.write(Data("... \(step)\n".utf8))
        }
        print(PluginsCheckCommand.text(report, check: check))
        if !report.passed { throw ExitCode.failure }
    }

    static func text(_ r: ComponentCheck.Report, check: ComponentCheck) -> String {
        let params = r.parameters.values.keys.sorted().map { "\($0)=\(r.parameters.values[$0]!)" }
        var lines = ["parameters: " + (params.isEmpty ? "none" : params.joined(separator: ", "))]
        if r.buildSeconds != nil {
            lines.append("model: \(count(r.elementCount)) parameters in \(r.tensorCount) tensors")
        }
        var steps = TextTable()
        if let t = r.buildSeconds { steps.append(["build", duration(t), "ok"]) }
        if !r.featureMaps.isEmpty {
            steps.append([
                "feature maps", "",
                r.featureMaps.map { "stride \($0.stride) x \($0.channels) ch" }.joined(separator: ", "),
            ])
        }
        if let t = r.forwardSeconds {
            steps.append(["forward", duration(t), r.value.map { "probe = \($0)" } ?? "not a scalar"])
        }
        if let t = r.backwardSeconds {
            let with = r.tensorCount - r.withoutGradient.count
            steps.append(["backward", duration(t), "\(with) of \(r.tensorCount) tensors received a gradient"])
        }
        if let t = r.finiteDifferenceSeconds {
            steps.append([
                "finite differences", duration(t),
                "\(r.samples.count) elements, h = \(check.gradientCheck.step) and h/2, tolerance "
                    + "\(check.gradientCheck.relativeTolerance) relative + measured noise",
            ])
        }
        if !steps.rows.isEmpty { lines.append(steps.rendered(indent: 2)) }
        if !r.samples.isEmpty {
            var table = TextTable(["TENSOR", "SHAPE", "ELEMENT", "ANALYTIC", "NUMERIC", "RESULT"])
            for s in r.samples {
                table.append([
                    s.name, "\(s.shape)", "\(s.index)", String(format: "%+.5e", s.analytic),
                    String(format: "%+.5e", s.numeric), !s.passed ? "MISMATCH" : s.isConclusive ? "ok" : "ok (small)",
                ])
            }
            lines.append(table.rendered(indent: 4))
        }
        if !r.withoutGradient.isEmpty {
            lines.append("note: no gradient reached " + r.withoutGradient.joined(separator: ", "))
        }
        if r.passed {
            lines.append("PASS")
        } else {
            lines.append("FAIL")
            lines += r.failures.map { "  - \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    private static func duration(_ seconds: Double) -> String {
        seconds < 1 ? String(format: "%.1f ms", seconds * 1000) : String(format: "%.2f s", seconds)
    }

    private static func count(_ n: Int) -> String {
        n >= 1_000_000
            ? String(format: "%.2fM", Double(n) / 1e6) : n >= 1000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
    }
}
