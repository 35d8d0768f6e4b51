import Foundation
import MixmaeReports
import MixmaeRuns

/// `/run/<id>`: everything `mixmae report` shows (the report's own sections: summary,
/// attempts, plugins, metrics, curves, pictures, lineage, artifacts with their file state,
/// the resolved recipe), with links to the run's neighbours, its lineage page and its JSON.
/// While the run is RUNNING the page polls `/run/<id>/charts` and redraws the curves, and
/// reloads once the run ends.
package struct RunPage {
    package let registry: RunRegistry
    package let run: RunID

    package func render() throws -> String {
        guard let record = try registry.run(run) else { throw UIRequestError.notFound("no run \(run) in the registry") }
        let report = RunReport(registry: registry, run: run)
        let sections = try report.bodyHTML { file in
            "/files/run/\(run)/pictures/" + UILayout.queryValue(file.lastPathComponent)
        }
        let details = try registry.details(ofRun: run)
        var links = [
            "<a href=\"/lineage?ref=run:\(run)\" id=\"lineage-link\">lineage graph</a>",
            "<a href=\"/api/runs/\(run)\">JSON</a>",
        ]
        let neighbours = (details.parents + details.children).map(\.runID)
        if let other = neighbours.first {
            links.append(
                "<a href=\"/compare?runs=\(min(run, other)),\(max(run, other))\">compare with run \(other)</a>")
        }
        // The report's heading first, then the links and neighbours, then the report's sections.
        let headingEnd = sections.range(of: "</h1>")?.upperBound ?? sections.startIndex
        var body = String(sections[..<headingEnd]) + "\n<p class=\"links\">" + links.joined(separator: " ") + "</p>\n"
        body += sweepLine(details.tags)
        body += neighbourList("parents", details.parents) { NeighbourWording.parent($0, of: record.task) }
        body += neighbourList("children", details.children) { NeighbourWording.child($0) }
        body += sections[headingEnd...]
        body += "<h2 id=\"provenance\">Resolved recipe with provenance</h2>\n"
        if let provenance = registry.recipeProvenance(ofRun: run) {
            body +=
                "<p class=\"muted\">Each value with the file:line:column (or --set) that set it, as "
                + "<code>mixmae recipe show --provenance</code> prints it.</p>\n"
                + "<pre class=\"recipe\" id=\"recipe-provenance\">\(UILayout.escape(provenance))</pre>\n"
        } else {
            body +=
                "<p class=\"muted\">not recorded for this run (training writes "
                + "\(RunRegistry.recipeProvenanceFileName) in the run folder since mixmae ui came)</p>\n"
        }
        if record.status == .running {
            body += "<p class=\"live\" id=\"live\">live: curves refresh every 3 s while the run trains</p>"
        }
        let script = record.status == .running ? Self.liveScript(run: run) : ""
        return UILayout.page(
            title: "run \(run) · \(record.task)", active: nil,
            body: "<div id=\"run\" data-run=\"\(run)\">\n"
                + body + "</div>", script: script)
    }

    /// The curves alone, for the live refresh.
    package func charts() throws -> String {
        guard try registry.run(run) != nil else { throw UIRequestError.notFound("no run \(run) in the registry") }
        return try RunReport(registry: registry, run: run).chartsHTML()
    }

    /// "sweep: sweep 3, point 2 (optim.base_lr=2e-3), stage 1" for a run `mixmae sweep` started.
    private func sweepLine(_ tags: [String: String]) -> String {
        guard let text = tags[SweepTags.sweep], let sweep = Int64(text) else { return "" }
        var position = ""
        if let point = tags[SweepTags.point].flatMap(Int.init) {
            let label = (try? registry.sweep(sweep))?.spec.points.first { $0.index == point }?.label
            position += ", point \(point)" + (label.map { " (\(UILayout.escape($0)))" } ?? "")
        }
        if let stage = tags[SweepTags.stage] { position += ", stage \(UILayout.escape(stage))" }
        return "<p class=\"sweep\"><b>sweep:</b> <a href=\"/sweep/\(sweep)\" class=\"sweep-link\">sweep \(sweep)</a>"
            + position + "</p>\n"
    }

    private func neighbourList(_ title: String, _ links: [RunLink], phrase: (RunLink) -> NeighbourWording.Phrase)
        -> String
    {
        guard !links.isEmpty else { return "" }
        let items = links.map { link in
            let words = phrase(link)
            return "\(UILayout.escape(words.before)) <a href=\"/run/\(link.runID)\" class=\"\(title)-link\">run "
                + "\(link.runID)</a> \(UILayout.escape(link.task)) \(UILayout.status(link.status))"
                + (words.after.isEmpty ? "" : " <span class=\"muted\">\(UILayout.escape(words.after))</span>")
        }
        return "<p class=\"\(title)\"><b>\(title):</b> " + items.joined(separator: "; ") + "</p>\n"
    }

    private static func liveScript(run: RunID) -> String {
        """
        async function refresh() {
          try {
            const status = await (await fetch('/api/runs/\(run)')).json();
            const charts = await (await fetch('/run/\(run)/charts')).text();
            const box = document.getElementById('charts');
            if (box) box.innerHTML = charts; else if (charts.trim().length > 0) { location.reload(); return; }
            document.body.dataset.refreshed = String(Date.now());
            if (status.run && status.run.status !== 'RUNNING') { location.reload(); return; }
          } catch (e) {}
          setTimeout(refresh, 3000);
        }
        setTimeout(refresh, 3000);
        """
    }
}

/// How the run page names a lineage neighbour, as a phrase read from this run:
/// "finetuned by run 3 classify FINISHED (init.backbone, sha256:1a2b…)",
/// "finetuned from run 1 pretrain FINISHED (init.backbone, …)", "evaluated by run 4 …",
/// "re-run as run 5 …". The verb follows the task of the run that used the artifact.
///
/// ```swift
/// NeighbourWording.child(link).before   // "finetuned by"
/// ```
package enum NeighbourWording {
    package struct Phrase: Equatable {
        /// Before the run's link: "finetuned by".
        package var before: String
        /// After the run's task and status: "(init.backbone, sha256:1a2b3c4d5e6f)".
        package var after: String
    }

    /// A run that used an artifact of this run (or re-runs it).
    package static func child(_ link: RunLink) -> Phrase {
        guard link.relation != "rerun" else { return Phrase(before: "re-run as", after: "") }
        return Phrase(before: verbs(usedBy: link.task).by, after: through(link))
    }

    /// A run whose artifact this run (of task `task`) used (or that this run re-runs).
    package static func parent(_ link: RunLink, of task: String) -> Phrase {
        guard link.relation != "rerun" else { return Phrase(before: "re-run of", after: "") }
        return Phrase(before: verbs(usedBy: task).from, after: through(link))
    }

    /// The verbs for a run of `task` that used an artifact: "finetuned by" / "finetuned from".
    static func verbs(usedBy task: String) -> (by: String, from: String) {
        switch task {
        case "classify", "detect", "segment": ("finetuned by", "finetuned from")
        case "eval": ("evaluated by", "evaluates")
        case "pretrain": ("pretraining continued by", "continues pretraining from")
        default: ("used by", "uses")
        }
    }

    private static func through(_ link: RunLink) -> String {
        let parts = [link.role?.rawValue, link.sha256.map { "sha256:" + $0.prefix(12) }].compactMap { $0 }
        return parts.isEmpty ? "" : "(" + parts.joined(separator: ", ") + ")"
    }
}
