import Foundation
import MixmaeReports
import MixmaeRuns
import MixmaeSupport

/// `/compare?runs=1,2,3`: two or more runs side by side: their facts, every metric's final
/// value (the best of the row in bold, by ``MetricGoal``), the curves of all runs overlaid
/// per chart of the report's ``CurvePlan``, and a unified diff of each run's recipe
/// against the first run's (two runs: exactly the diff of `mixmae runs compare`).
package struct ComparePage {
    package let registry: RunRegistry

    /// The run ids a `runs=1,2,3` list names, in order, without repeats.
    package static func runIDs(_ texts: [String]) throws -> [RunID] {
        var ids: [RunID] = []
        for text in texts {
            let id = try RunReference(parsing: text).runID
            if !ids.contains(id) { ids.append(id) }
        }
        guard ids.count >= 2 else {
            throw UIRequestError.badRequest(
                "compare needs two or more runs: /compare?runs=1,2 (pick them in the runs table)")
        }
        return ids
    }

    package func render(runs ids: [RunID]) throws -> String {
        let all = try ids.map { try registry.details(ofRun: $0) }
        var body =
            "<h1>Compare runs " + ids.map { "<a href=\"/run/\($0)\">\($0)</a>" }.joined(separator: ", ") + "</h1>\n"
        body += facts(all)
        body += metrics(all)
        body += try curves(all)
        body += diffs(all)
        return UILayout.page(title: "compare", active: .compare, body: body)
    }

    private func facts(_ all: [RunDetails]) -> String {
        var out = "<h2>Runs</h2><table id=\"facts\"><tr><th></th>"
        out += all.map { "<th>run \($0.run.id)</th>" }.joined() + "</tr>"
        let rows: [(String, (RunDetails) -> String)] = [
            ("task", { e($0.run.task) }),
            ("status", { UILayout.status($0.run.status) }),
            ("started", { e(RegistryDates.display($0.run.startedAt)) }),
            ("duration", { e(RegistryText.runDuration($0.run)) }),
            ("attempts", { String($0.run.attempt) }),
            ("seed", { $0.run.seed.map { String($0) } ?? "-" }),
            ("recipe", { "<code>\($0.recipe.sha256.prefix(12))</code>" }),
            (
                "initial weights",
                { details in
                    let used = details.artifacts.filter { $0.event.direction == .used }
                    return used.isEmpty
                        ? "-" : used.map { e("\($0.event.role) \($0.artifact.shortHash)") }.joined(separator: "<br/>")
                }
            ),
        ]
        for (name, value) in rows {
            let cells = all.map(value)
            let differs = Set(cells).count > 1
            out += "<tr><th>\(name)\(differs ? " *" : "")</th>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
        }
        return out + "</table><p class=\"muted\">* differs</p>\n"
    }

    private func metrics(_ all: [RunDetails]) -> String {
        let names = Set(all.flatMap { $0.metrics.map(\.name) }).sorted()
        guard !names.isEmpty else { return "<h2>Final metrics</h2><p class=\"muted\">no run logged metrics</p>\n" }
        var out = "<h2>Final metrics</h2><table id=\"metrics\"><tr><th>metric</th>"
        out += all.map { "<th class=\"num\">run \($0.run.id)</th>" }.joined() + "</tr>"
        for name in names {
            let values = all.map { details in details.metrics.first { $0.name == name }?.last.value }
            let best = UILayout.best(of: values, metric: name)
            out += "<tr data-metric=\"\(e(name))\"><td>\(e(name))</td>"
            out += values.map { value in
                let isBest = value != nil && value == best
                return "<td class=\"num\(isBest ? " best" : "")\">\(e(RegistryText.value(value)))</td>"
            }.joined()
            out += "</tr>"
        }
        return out + "</table>\n"
    }

    private func curves(_ all: [RunDetails]) throws -> String {
        var samples: [RunID: [String: [MetricSample]]] = [:]
        for details in all {
            samples[details.run.id] = Dictionary(grouping: try registry.metrics(ofRun: details.run.id), by: \.name)
        }
        let names = Set(samples.values.flatMap(\.keys))
        let plans = CurvePlan.charts(for: Array(names))
        var svgs: [String] = []
        for plan in plans {
            var series: [LineChart.Series] = []
            for details in all {
                for name in plan.metrics {
                    guard let points = samples[details.run.id]?[name], !points.isEmpty else { continue }
                    let label = plan.metrics.count == 1 ? "run \(details.run.id)" : "run \(details.run.id) \(name)"
                    series.append(
                        LineChart.Series(
                            name: label, points: points.map { LineChart.Point(x: Double($0.step), y: $0.value) }))
                }
            }
            // A metric logged once per run (gflops, compute_tflops) is in the table, not a curve.
            guard series.contains(where: { $0.points.count > 1 }) else { continue }
            let chart = LineChart(title: plan.title, xLabel: "step", yScale: plan.scale, series: series)
            svgs.append(chart.svgElement())
        }
        guard !svgs.isEmpty else { return "" }
        return "<h2>Curves</h2><div class=\"charts\" id=\"charts\">\n" + svgs.joined(separator: "\n") + "\n</div>\n"
    }

    private func diffs(_ all: [RunDetails]) -> String {
        let first = all[0]
        var out = "<h2>Recipes</h2>\n"
        for other in all.dropFirst() {
            let diff = UnifiedDiff.make(
                old: first.recipe.text, new: other.recipe.text,
                oldLabel: "run \(first.run.id) recipe (sha256 \(first.recipe.sha256.prefix(12)))",
                newLabel: "run \(other.run.id) recipe (sha256 \(other.recipe.sha256.prefix(12)))")
            out += "<h3>run \(first.run.id) → run \(other.run.id)</h3>\n"
            if diff.isEmpty {
                out += "<p class=\"muted\">the recipes are identical</p>\n"
                continue
            }
            let lines = diff.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                let text = e(String(line))
                if line.hasPrefix("+++") || line.hasPrefix("---") { return "<b>\(text)</b>" }
                if line.hasPrefix("@@") { return "<span class=\"hunk\">\(text)</span>" }
                if line.hasPrefix("+") { return "<span class=\"add\">\(text)</span>" }
                if line.hasPrefix("-") { return "<span class=\"del\">\(text)</span>" }
                return text
            }
            out +=
                "<pre class=\"diff\" data-runs=\"\(first.run.id),\(other.run.id)\">" + lines.joined(separator: "\n")
                + "</pre>\n"
        }
        return out
    }

    private func e(_ text: String) -> String { UILayout.escape(text) }
}
