import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeSupport

/// `mixmae plugins check ID`: build with defaults, forward, backward, finite differences, report.
///
/// ```
/// mixmae plugins check swin
/// mixmae plugins check swin --format json
/// ```
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
    @OptionGroup var output: OutputOptions

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
        if !output.json {
            print("checking \(component.id) \(component.version) (\(component.kind)) from \(component.library)")
        }
        let report = check.run(component) { step in
            FileHandle.standardError.write(Data("... \(step)\n".utf8))
        }
        let maskToken = Self.maskTokenSupport(component, report: report)
        if output.json {
            var summary = CheckSummary(report, check: check)
            summary.maskToken = maskToken
            try output.print(summary)
        } else {
            print(PluginsCheckCommand.text(report, check: check, maskToken: maskToken))
        }
        if !report.passed { throw ExitCode.failure }
    }

    /// Whether the component, built once more with the checked parameters, supports
    /// `mask.mode: mask_token`; nil when its kind plays no part in it or it did not build.
    static func maskTokenSupport(_ component: PluginComponent, report: ComponentCheck.Report) -> Bool? {
        guard report.buildSeconds != nil else { return nil }
        return MaskTokenSupport.isSupported(by: component, parameters: report.parameters)
    }

    static func text(_ r: ComponentCheck.Report, check: ComponentCheck, maskToken: Bool? = nil) -> String {
        let params = r.parameters.values.keys.sorted().map { "\($0)=\(r.parameters.values[$0]!)" }
        var lines = ["parameters: " + (params.isEmpty ? "none" : params.joined(separator: ", "))]
        if r.buildSeconds != nil {
            lines.append("model: \(count(r.elementCount)) parameters in \(r.tensorCount) tensors")
        }
        if let maskToken, let verdict = MaskTokenSupport.verdict(maskToken, kind: r.kind) {
            lines.append("mask.mode mask_token: " + verdict)
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

/// `plugins check --format json`: everything the text report shows.
struct CheckSummary: Encodable {
    struct Step: Encodable {
        var name: String
        var seconds: Double
    }

    struct Sample: Encodable {
        var tensor: String
        var shape: [Int]
        var element: Int
        var analytic: Double
        var numeric: Double
        var passed: Bool
        var conclusive: Bool
    }

    struct Map: Encodable {
        var stride: Int
        var channels: Int
    }

    var id: String
    var kind: String
    var version: String
    var library: String
    var parameters: [String: String]
    var tensors: Int
    var elements: Int
    var probe: Float?
    var featureMaps: [Map]
    var steps: [Step]
    var finiteDifferenceStep: Double
    var relativeTolerance: Double
    var samples: [Sample]
    var withoutGradient: [String]
    var passed: Bool
    var failures: [String]
    /// Whether it supports `mask.mode: mask_token` (backbones, decoders and losses).
    var maskToken: Bool?

    init(_ r: ComponentCheck.Report, check: ComponentCheck) {
        id = r.id
        kind = "\(r.kind)"
        version = r.version
        library = r.library
        parameters = r.parameters.values.mapValues { "\($0)" }
        tensors = r.tensorCount
        elements = r.elementCount
        probe = r.value
        featureMaps = r.featureMaps.map { Map(stride: $0.stride, channels: $0.channels) }
        let timed: [(String, Double?)] = [
            ("build", r.buildSeconds), ("forward", r.forwardSeconds), ("backward", r.backwardSeconds),
            ("finite differences", r.finiteDifferenceSeconds),
        ]
        steps = timed.compactMap { name, seconds in seconds.map { Step(name: name, seconds: $0) } }
        finiteDifferenceStep = Double(check.gradientCheck.step)
        relativeTolerance = Double(check.gradientCheck.relativeTolerance)
        samples = r.samples.map {
            Sample(
                tensor: $0.name, shape: $0.shape, element: $0.index, analytic: $0.analytic, numeric: $0.numeric,
                passed: $0.passed, conclusive: $0.isConclusive)
        }
        withoutGradient = r.withoutGradient
        passed = r.passed
        failures = r.failures
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, version, library, parameters, tensors, elements, probe, steps, samples, passed, failures
        case featureMaps = "feature_maps"
        case maskToken = "mask_token"
        case finiteDifferenceStep = "finite_difference_step"
        case relativeTolerance = "relative_tolerance"
        case withoutGradient = "without_gradient"
    }
}
