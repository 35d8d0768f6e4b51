import Foundation
import MixmaeReports
import MixmaeRuns
import MixmaeSupport

/// How far a sweep has got: each grid point's stages by the status of their newest run.
///
/// A sweep is live while one of its runs is RUNNING, or while points are still to run and
/// its last run ended (or the sweep was created) less than ``SweepProgress/gap`` ago: `mixmae
/// sweep` starts the next point's process right after the previous one ends.
///
/// ```swift
/// let progress = SweepProgress(record: sweep, members: try registry.members(ofSweep: sweep.id))
/// progress.summary   // "3 FINISHED, 1 RUNNING, 2 not run"
/// ```
package struct SweepProgress {
    /// How long after its last run ended a sweep with points left still counts as live.
    package static let gap: TimeInterval = 60

    /// Runs expected: points x stages.
    package let expected: Int
    /// The newest run of each point and stage that has one, by status.
    package let counts: [RunStatus: Int]
    package let isLive: Bool

    package init(record: SweepRecord, members: [SweepMember], now: Date = Date()) {
        var newest: [String: SweepMember] = [:]
        for member in members { newest["\(member.point).\(member.stage)"] = member }
        expected = record.spec.points.count * record.spec.stageCount
        var counts: [RunStatus: Int] = [:]
        for member in newest.values { counts[member.run.status, default: 0] += 1 }
        self.counts = counts
        let lastSign = members.map { $0.run.endedAt ?? $0.run.heartbeatAt }.max() ?? record.createdAt
        isLive =
            counts[.running, default: 0] > 0
            || (newest.count < expected && now.timeIntervalSince(lastSign) < Self.gap)
    }

    /// Points x stages that have no run yet.
    package var notRun: Int { expected - counts.values.reduce(0, +) }

    /// "4 FINISHED, 1 RUNNING, 1 not run".
    package var summary: String {
        let parts = RunStatus.allCases.compactMap { status in
            counts[status].map { "\($0) \(status.rawValue)" }
        }
        return (parts + (notRun > 0 ? ["\(notRun) not run"] : [])).joined(separator: ", ")
    }

    /// The same, with each status coloured as in the runs table.
    package var summaryHTML: String {
        let parts = RunStatus.allCases.compactMap { status in
            counts[status].map { "\($0) " + UILayout.status(status) }
        }
        return (parts + (notRun > 0 ? ["\(notRun) not run"] : [])).joined(separator: ", ")
    }
}

/// `/sweeps`: every sweep of the registry, newest first: its recipe(s), the varied keys and
/// their values, how many points, and how far its runs have got. While a sweep is live the
/// table refreshes itself from `/sweeps/table` every few seconds.
package struct SweepsPage {
    package let registry: RunRegistry

    package func render() throws -> String {
        let body =
            "<h1>Sweeps</h1>\n<div id=\"sweeps-box\">" + (try table()) + "</div>\n"
            + "<p class=\"muted\">A sweep is made by <code>mixmae sweep RECIPE --grid KEY=A,B [--then RECIPE]</code>; "
            + "<code>mixmae runs compare --sweep ID</code> prints its table.</p>\n"
        return UILayout.page(
            title: "sweeps", active: .sweeps, body: body,
            script: SweepPage.liveScript(fragment: "/sweeps/table", box: "sweeps-box"))
    }

    /// The table alone (the live refresh); `data-live` says whether to keep refreshing.
    package func table() throws -> String {
        let sweeps = try registry.sweeps()
        guard !sweeps.isEmpty else {
            return "<p class=\"muted\" id=\"no-sweeps\" data-live=\"0\">no sweeps in this registry yet</p>"
        }
        var live = false
        var rows = ""
        for sweep in sweeps {
            let progress = SweepProgress(record: sweep, members: try registry.members(ofSweep: sweep.id))
            live = live || progress.isLive
            let spec = sweep.spec
            let recipes =
                e(spec.recipe) + (spec.then.map { " <span class=\"muted\">then</span> " + e($0.recipe) } ?? "")
            let grid = spec.grid.map { "<code>\(e($0.key))=\(e($0.values.joined(separator: ",")))</code>" }
            rows += """
                <tr data-sweep="\(sweep.id)" data-live="\(progress.isLive ? 1 : 0)">\
                <td><a href="/sweep/\(sweep.id)" class="sweep-link">sweep \(sweep.id)</a></td>\
                <td>\(e(RegistryDates.display(sweep.createdAt)))</td><td>\(recipes)</td>\
                <td>\(grid.joined(separator: " "))</td><td class="num">\(spec.points.count)</td>\
                <td class="num">\(spec.stageCount)</td><td class="progress">\(progress.summaryHTML)\
                \(progress.isLive ? " <span class=\"live\">live</span>" : "")</td></tr>

                """
        }
        return """
            <table class="runs" id="sweeps" data-live="\(live ? 1 : 0)"><thead><tr><th>sweep</th><th>created</th>\
            <th>recipe</th><th>grid</th><th class="num">points</th><th class="num">stages</th><th>runs</th></tr>\
            </thead><tbody>
            \(rows)</tbody></table>
            """
    }

    private func e(_ text: String) -> String { UILayout.escape(text) }
}

/// `/sweep/<id>`: one sweep's table (`mixmae runs compare --sweep ID`, the same
/// ``SweepTable``): per grid point the varied keys' values, each stage's run (linked) and
/// status, the final metrics (the best of a column in bold), the compute of all stages;
/// then the mean ± sd over seeds when `seed` is varied. Runs can be ticked and compared.
/// While the sweep is live (``SweepProgress``) the tables refresh from `/sweep/<id>/table`.
package struct SweepPage {
    package let registry: RunRegistry
    package let sweep: Int64

    package func render() throws -> String {
        let record = try registry.sweep(sweep)
        let spec = record.spec
        var facts = [
            ("recipe", "<code>\(e(spec.recipe))</code>" + overrides(spec.overrides)),
            (
                "grid",
                spec.grid.map { "<code>\(e($0.key))=\(e($0.values.joined(separator: ",")))</code>" }.joined(
                    separator: " ")
            ),
        ]
        if let then = spec.then {
            facts.append(("then", "<code>\(e(then.recipe))</code>" + overrides(then.overrides)))
        }
        facts.append(("created", e(RegistryDates.display(record.createdAt))))
        let body = """
            <h1>Sweep \(sweep) <span class="muted">· \(spec.points.count) points × \(spec.stageCount) \
            stage\(spec.stageCount == 1 ? "" : "s")</span></h1>
            <table id="sweep-facts">\(facts.map { "<tr><th>\($0.0)</th><td>\($0.1)</td></tr>" }.joined())</table>
            <p class="links"><a href="/api/sweeps/\(sweep)">JSON</a> <a href="/sweeps">all sweeps</a> \
            <button type="button" id="compare" disabled="disabled">compare selected</button> \
            <span class="muted">tick runs in the table to compare them</span></p>
            <div id="sweep-box">\(try table())</div>
            """
        return UILayout.page(
            title: "sweep \(sweep)", active: .sweeps, body: body,
            script: Self.liveScript(fragment: "/sweep/\(sweep)/table", box: "sweep-box") + Self.compareScript)
    }

    /// The points table, the mean ± sd table and the live marker (the live refresh).
    package func table() throws -> String {
        let record = try registry.sweep(sweep)
        let table = try SweepTable(registry: registry, sweep: sweep)
        let progress = SweepProgress(record: record, members: try registry.members(ofSweep: sweep))
        var out = "<p class=\"progress\" id=\"progress\" data-live=\"\(progress.isLive ? 1 : 0)\">runs: "
        out += progress.summaryHTML.isEmpty ? "none yet" : progress.summaryHTML
        if progress.isLive { out += " <span class=\"live\" id=\"live\">live: refreshing every 3 s</span>" }
        out += "</p>\n" + points(table) + groups(table)
        return out
    }

    private func points(_ table: SweepTable) -> String {
        let stageCount = table.spec.stageCount
        let columns = (1...stageCount).map { stage in table.columns.filter { $0.stage == stage } }
        let tasks = (1...stageCount).map { stage in
            table.rows.lazy.compactMap { $0.stages[stage - 1].task }.first
        }
        var out = "<h2>Points</h2>\n<table class=\"runs sweep\" id=\"points\"><thead><tr><th rowspan=\"2\">point</th>"
        out += table.keys.map { "<th rowspan=\"2\">\(e($0))</th>" }.joined()
        for stage in 1...stageCount {
            let task = tasks[stage - 1].map { " · " + e($0) } ?? ""
            out += "<th colspan=\"\(2 + columns[stage - 1].count)\" class=\"stage\">stage \(stage)\(task)</th>"
        }
        out += (Self.showsTotal(table) ? "<th rowspan=\"2\" class=\"num\">TFLOPs</th>" : "") + "</tr><tr>"
        for stage in 1...stageCount {
            out += "<th>run</th><th>status</th>"
            out += columns[stage - 1].map { "<th class=\"num\">\(e($0.metric))</th>" }.joined()
        }
        out += "</tr></thead><tbody>\n"
        let best = Dictionary(
            uniqueKeysWithValues: table.columns.map { column in
                (
                    column.name,
                    UILayout.best(
                        of: table.rows.map { $0.stages[column.stage - 1].metrics[column.metric] ?? nil },
                        metric: column.metric)
                )
            })
        for row in table.rows {
            out += "<tr data-point=\"\(row.point)\"><td>\(row.point)</td>"
            out += row.values.map { "<td><code>\(e($0))</code></td>" }.joined()
            for stage in row.stages {
                if let run = stage.run {
                    out +=
                        "<td><input type=\"checkbox\" class=\"pick\" value=\"\(run)\"/> "
                        + "<a href=\"/run/\(run)\" class=\"run-link\" data-stage=\"\(stage.stage)\">run \(run)</a></td>"
                    let status = stage.status.flatMap(RunStatus.init(rawValue:))
                    out +=
                        "<td data-status=\"\(e(stage.status ?? ""))\">"
                        + (status.map(UILayout.status) ?? e(stage.status ?? "")) + "</td>"
                } else {
                    out += "<td class=\"muted\">-</td><td class=\"muted\" data-status=\"\">not run</td>"
                }
                for column in columns[stage.stage - 1] {
                    let value = stage.metrics[column.metric] ?? nil
                    let isBest = value != nil && value == best[column.name] ?? nil
                    out += "<td class=\"num\(isBest ? " best" : "")\">\(e(RegistryText.value(value)))</td>"
                }
            }
            if Self.showsTotal(table) { out += "<td class=\"num\">\(e(RegistryText.value(row.computeTFLOPs)))</td>" }
            out += "</tr>\n"
        }
        out += "</tbody></table>\n"
        var links: [String] = []
        for stage in 1...stageCount {
            let runs = table.rows.compactMap { $0.stages[stage - 1].run }
            if runs.count >= 2 {
                links.append(
                    "<a href=\"/compare?runs=\(runs.map(String.init).joined(separator: ","))\" "
                        + "class=\"compare-stage\">compare all stage \(stage) runs</a>")
            }
        }
        if !links.isEmpty { out += "<p class=\"links\">" + links.joined(separator: " ") + "</p>\n" }
        return out
    }

    private func groups(_ table: SweepTable) -> String {
        guard !table.groups.isEmpty else { return "" }
        let names = table.columns.map(\.name) + (Self.showsTotal(table) ? ["compute_tflops"] : [])
        var out = "<h2>Mean ± sd over seeds</h2>\n<table class=\"runs\" id=\"groups\"><thead><tr>"
        out += table.groupKeys.map { "<th>\(e($0))</th>" }.joined() + "<th class=\"num\">seeds</th>"
        out += table.columns.map {
            "<th class=\"num\">\(e($0.metric)) <span class=\"muted\">(stage \($0.stage))</span></th>"
        }
        .joined()
        out += (Self.showsTotal(table) ? "<th class=\"num\">TFLOPs</th>" : "") + "</tr></thead><tbody>\n"
        for group in table.groups {
            out += "<tr data-points=\"\(group.points.map(String.init).joined(separator: ","))\">"
            out += group.values.map { "<td><code>\(e($0))</code></td>" }.joined()
            out += "<td class=\"num\">\(group.points.count)</td>"
            for name in names {
                guard let statistic = group.statistics[name] else {
                    out += "<td class=\"num muted\">-</td>"
                    continue
                }
                // Fewer values than seeds (a point not run yet, a metric not logged): say how many.
                let sd =
                    (statistic.std.map { " ± " + RegistryText.value($0) } ?? "")
                    + (statistic.count < group.points.count ? " (n = \(statistic.count))" : "")
                out +=
                    "<td class=\"num\" title=\"n = \(statistic.count)\">\(e(RegistryText.value(statistic.mean) + sd))</td>"
            }
            out += "</tr>\n"
        }
        out += "</tbody></table>\n<p class=\"muted\">sd: sample standard deviation (n - 1) over the points "
        out += "that differ only in <code>seed</code>; n in each cell's tooltip.</p>\n"
        return out
    }

    /// The compute of all stages, unless it repeats the one stage's compute_tflops column.
    private static func showsTotal(_ table: SweepTable) -> Bool {
        table.spec.stageCount > 1 || !table.columns.contains { $0.metric == "compute_tflops" }
    }

    private func overrides(_ list: [String]) -> String {
        list.isEmpty ? "" : " " + list.map { "<code>--set \(e($0))</code>" }.joined(separator: " ")
    }

    private func e(_ text: String) -> String { UILayout.escape(text) }

    /// Replaces `box`'s content with `fragment` every 3 s while the fragment's first
    /// element says `data-live="1"`; marks `body[data-refreshed]` after each refresh.
    static func liveScript(fragment: String, box: String) -> String {
        """
        function sweepIsLive() {
          const first = document.querySelector('#\(box) [data-live]');
          return first && first.dataset.live === '1';
        }
        async function refreshSweep() {
          try {
            const answer = await fetch('\(fragment)');
            if (answer.ok) {
              const picked = new Set([...document.querySelectorAll('input.pick:checked')].map(b => b.value));
              document.getElementById('\(box)').innerHTML = await answer.text();
              for (const b of document.querySelectorAll('input.pick')) b.checked = picked.has(b.value);
              document.body.dataset.refreshed = String(Date.now());
              document.dispatchEvent(new Event('sweep-refreshed'));
            }
          } catch (e) {}
          if (sweepIsLive()) setTimeout(refreshSweep, 3000);
        }
        if (sweepIsLive()) setTimeout(refreshSweep, 3000);

        """
    }

    private static let compareScript = """
        const compareButton = document.getElementById('compare');
        function pickedRuns() {
          return [...document.querySelectorAll('input.pick:checked')].map(b => b.value);
        }
        function updateCompare() { compareButton.disabled = pickedRuns().length < 2; }
        document.addEventListener('change', e => { if (e.target.classList.contains('pick')) updateCompare(); });
        document.addEventListener('sweep-refreshed', updateCompare);
        compareButton.addEventListener('click', () => {
          const runs = pickedRuns();
          if (runs.length >= 2) location.href = '/compare?runs=' + runs.join(',');
        });
        """
}
