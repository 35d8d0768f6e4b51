import Foundation
import MixmaeReports
import MixmaeRuns

/// The frame every UI page shares: title, navigation bar, the report's style sheet plus the
/// UI's own rules, and optional page script.
///
/// ```swift
/// UILayout.page(title: "runs", active: .runs, body: "<h1>Runs</h1>")
/// ```
package enum UILayout {
    package enum Section: String, CaseIterable {
        case runs, sweeps, lineage, compare
    }

    package static func page(title: String, active: Section?, body: String, script: String = "") -> String {
        let nav = Section.allCases.map { section in
            let current = section == active ? " class=\"active\"" : ""
            return "<a href=\"/\(section.rawValue)\"\(current)>\(section.rawValue)</a>"
        }.joined(separator: " ")
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8"/>
            <link rel="icon" href="data:,"/>
            <title>\(escape(title)) · mixmae</title>
            <style>\(RunReport.styleSheet)\(style)</style>
            </head>
            <body>
            <nav class="top"><span class="brand">mixmae</span> \(nav)</nav>
            \(body)
            \(script.isEmpty ? "" : "<script>\n" + script + "\n</script>")
            </body>
            </html>

            """
    }

    /// An error page (or panel) with the message the registry gave.
    package static func errorPage(_ message: String, status: Int) -> String {
        page(
            title: "error", active: nil,
            body: "<h1>\(status == 404 ? "Not found" : "Cannot show this")</h1>"
                + "<pre class=\"error\" id=\"error\">\(escape(message))</pre><p><a href=\"/runs\">all runs</a></p>")
    }

    package static func escape(_ text: String) -> String { XMLText.escape(text) }

    /// A query value percent-encoded for a link.
    package static func queryValue(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:,")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// The value to show in bold in a column of final metrics: the best by ``MetricGoal``, but
    /// only when the values differ, and never for compute (`compute_tflops`, `gflops`: a cost,
    /// not a result).
    ///
    /// ```swift
    /// UILayout.best(of: [0.1, 0.3, nil], metric: "top1")   // 0.3
    /// UILayout.best(of: [2, 2], metric: "top1")            // nil: nothing stands out
    /// ```
    package static func best(of values: [Double?], metric: String) -> Double? {
        let present = values.compactMap { $0 }.filter { !$0.isNaN }
        guard Set(present).count >= 2, !["compute_tflops", "gflops"].contains(metric) else { return nil }
        switch MetricGoal.inferred(from: metric) {
        case .minimize: return present.min()
        case .maximize: return present.max()
        case .none: return nil
        }
    }

    /// `<span class="status RUNNING">RUNNING</span>`.
    package static func status(_ status: RunStatus) -> String {
        "<span class=\"status \(status.rawValue)\">\(status.rawValue)</span>"
    }

    private static let style = """

        body { max-width: 1400px; }
        nav.top { border-bottom: 1px solid #ddd; padding: 6px 0 8px; margin-bottom: 8px; }
        nav.top a { margin-right: 14px; color: #1f4f8f; text-decoration: none; }
        nav.top a.active { font-weight: 600; color: #222; }
        nav.top .brand { font-weight: 700; margin-right: 18px; }
        form.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin: 8px 0 12px; }
        form.filters label { display: flex; flex-direction: column; font-size: 12px; color: #555; }
        form.filters input, form.filters select { font-size: 13px; padding: 3px 5px; }
        table.runs th { cursor: pointer; user-select: none; white-space: nowrap; }
        table.runs th.sorted-asc::after { content: " ▲"; font-size: 10px; }
        table.runs th.sorted-desc::after { content: " ▼"; font-size: 10px; }
        table.runs td, table.runs th { padding-right: 12px; }
        table.runs tr:hover td { background: #f5f8fc; }
        .live { color: #1f77b4; font-size: 12px; }
        .links a { margin-right: 12px; }
        .lineage svg a .node rect { cursor: pointer; }
        .lineage svg a:hover rect { stroke: #1f77b4; stroke-width: 2.5; }
        pre.diff .add { color: #176f2c; background: #eefbef; }
        pre.diff .del { color: #a01c1c; background: #fdf0f0; }
        pre.diff .hunk { color: #6a4fb3; }
        td.best { font-weight: 700; }
        .panel { display: flex; gap: 24px; flex-wrap: wrap; }
        td.num, th.num { white-space: nowrap; }
        .pager label select { margin-left: 6px; }
        """
}
