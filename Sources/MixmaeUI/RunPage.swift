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
        var body = "<p class=\"links\">" + links.joined(separator: " ") + "</p>\n"
        body += neighbourList("parents", details.parents, how: "used")
        body += neighbourList("children", details.children, how: "used by")
        body += sections
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

    private func neighbourList(_ title: String, _ links: [RunLink], how: String) -> String {
        guard !links.isEmpty else { return "" }
        let items = links.map { link in
            let relation =
                link.relation == "rerun"
                ? "re-run"
                : "\(how) as \(link.role?.rawValue ?? "") (sha256:\(link.sha256?.prefix(12) ?? ""))"
            return "<a href=\"/run/\(link.runID)\" class=\"\(title)-link\">run \(link.runID)</a> "
                + "\(UILayout.escape(link.task)) \(UILayout.status(link.status)) <span class=\"muted\">"
                + "\(UILayout.escape(relation))</span>"
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
