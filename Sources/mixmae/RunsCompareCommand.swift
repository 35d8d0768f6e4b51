import ArgumentParser
import Foundation
import MixmaeRuns
import MixmaeSupport

/// `mixmae runs compare A B`.
struct RunsCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two runs (facts, recipe diff, final metrics), or every run of a sweep in one table.",
        discussion: """
            Final metrics are each metric's value at its last logged step; change is B - A. With --sweep ID: one             row per grid point (the varied keys, each stage's run and status, the final metrics as STAGE.METRIC,             the compute of both stages in TFLOPs), then the mean ± sd over seeds when `seed` is varied.
            """
    )

    @OptionGroup var home: HomeOptions

    @Argument(help: "The first run (A): 12, run:12 or run:12:best.")
    var a: String?

    @Argument(help: "The second run (B).")
    var b: String?

    @Option(help: ArgumentHelp("Compare the runs of this sweep (`mixmae sweep` prints its id).", valueName: "id"))
    var sweep: Int64?

    @Option(
        help: ArgumentHelp(
            "With --sweep: the metric columns, comma-separated (default: \(SweepTable.defaultMetrics.joined(separator: ",")), where logged).",
            valueName: "names"))
    var metrics: String?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if sweep != nil {
            if a != nil || b != nil { throw ValidationError("give two runs or --sweep ID, not both") }
        } else {
            if a == nil || b == nil { throw ValidationError("give two runs (A B), or --sweep ID") }
            if metrics != nil { throw ValidationError("--metrics picks the columns of --sweep") }
        }
    }

    func run() throws {
        let registry = try home.open()
        if let sweep {
            let names = metrics?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let table = try SweepTable(registry: registry, sweep: sweep, metrics: names)
            if output.json { try output.print(table) } else { print(table.rendered(), terminator: "") }
            return
        }
        let comparison = try registry.compare(
            try RunReference(parsing: a!).runID, try RunReference(parsing: b!).runID)
        if output.json {
            try output.print(comparison)
        } else {
            print(render(comparison), terminator: "")
        }
    }

    private func render(_ comparison: RunComparison) -> String {
        let left = comparison.a
        let right = comparison.b
        var facts = TextTable(["", "run \(left.run.id)", "run \(right.run.id)"])
        func row(_ name: String, _ value: (RunDetails) -> String) {
            let (l, r) = (value(left), value(right))
            facts.append([l == r ? name : name + " *", l, r])
        }
        row("task") { $0.run.task }
        row("status") { $0.run.status.rawValue }
        row("started") { RegistryDates.display($0.run.startedAt) }
        row("duration") { RegistryText.runDuration($0.run) }
        row("attempts") { String($0.run.attempt) }
        row("seed") { $0.run.seed.map(String.init) ?? "-" }
        row("recipe") { "sha256 " + $0.recipe.sha256.prefix(12) }
        let pluginIDs = Set(left.plugins.map(\.id) + right.plugins.map(\.id)).sorted()
        for id in pluginIDs {
            row("plugin " + id) { details in
                details.plugins.first { $0.id == id }.map { "\($0.version) (\($0.librarySHA256.prefix(8)))" } ?? "-"
            }
        }
        row("initial weights") { details in
            let used = details.artifacts.filter { $0.event.direction == .used }
            return used.isEmpty
                ? "-"
                : used.map { "\($0.event.role) \($0.artifact.shortHash)" }.joined(separator: ", ")
        }
        var out = facts.rendered() + "\n(* differs)\n\n"
        if comparison.recipeDiff.isEmpty {
            out += "recipes are identical\n"
        } else {
            out += "recipe diff\n" + comparison.recipeDiff
        }
        out += "\nfinal metrics\n"
        if comparison.metrics.isEmpty {
            out += "  (neither run logged metrics)\n"
        } else {
            var metrics = TextTable(
                ["NAME", "run \(left.run.id)", "run \(right.run.id)", "CHANGE"], rightAligned: [1, 2, 3])
            for metric in comparison.metrics {
                metrics.append([
                    metric.name, RegistryText.value(metric.a), RegistryText.value(metric.b),
                    RegistryText.delta(metric.delta),
                ])
            }
            out += metrics.rendered() + "\n"
        }
        return out
    }
}
