import Foundation
import MixmaeReports
import MixmaeRuns

/// `/lineage?ref=REF[&all=1]`: the lineage up and down from a run or a checkpoint, drawn by
/// the report's ``LineageDiagram`` from the same ``RunRegistry/lineage(of:direction:)``
/// query `mixmae lineage` uses. Every box is a link: a run opens its page, an artifact
/// re-centres the graph on it. `all=1` draws every produced artifact, the content of
/// `mixmae lineage REF --format dot` up and down; by default artifacts nothing used are
/// folded, as in the report.
package struct LineagePage {
    package let registry: RunRegistry

    /// The lineage node a UI reference names. Only registry references are taken (a run id,
    /// `run:12`, `run:12:best`, `run:12:last`, `sha256:PREFIX`, a hex prefix): never a file
    /// path, which would make the server read files a visitor names.
    package static func node(for reference: String, in registry: RunRegistry) throws -> LineageNode {
        let text = reference.trimmingCharacters(in: .whitespaces)
        let body = text.hasPrefix("run:") ? String(text.dropFirst(4)) : text
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        let isRun =
            !parts.isEmpty && parts.count <= 2 && RunID(parts[0]) != nil
            && (parts.count == 1 || ["best", "last"].contains(parts[1]))
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        let isHash = (4...64).contains(hex.count) && hex.allSatisfy(\.isHexDigit)
        guard isRun || isHash else {
            throw UIRequestError.badRequest(
                "'\(reference)' is not a run or checkpoint reference; write 12, run:12, run:12:best, "
                    + "run:12:last or sha256:PREFIX (file paths are not taken here)")
        }
        return try registry.lineageNode(for: text)
    }

    package func render(reference: String, all: Bool) throws -> String {
        let node = try Self.node(for: reference, in: registry)
        let up = try registry.lineage(of: node, direction: .up)
        let down = try registry.lineage(of: node, direction: .down)
        let diagram = LineageDiagram(up: up, down: down, foldUnused: !all)
        let svg = diagram.svgElement { node in
            switch node {
            case .run(let id): return "/run/\(id)"
            case .artifact: return "/lineage?ref=" + UILayout.queryValue(diagram.nodeID(node)) + (all ? "&all=1" : "")
            }
        }
        let ref = UILayout.escape(reference)
        let encoded = UILayout.queryValue(reference)
        var body = """
            <h1>Lineage of <code id="root">\(UILayout.escape(diagram.nodeID(node)))</code></h1>
            <form class="filters" method="get" action="/lineage">
            <label>from (run:12, run:12:best, sha256:PREFIX)<input name="ref" value="\(ref)" size="24"/></label>
            <label>all artifacts<input type="checkbox" name="all" value="1"\(all ? " checked=\"checked\"" : "")/></label>
            <button type="submit">show</button>
            <button type="button" id="zoom-in">zoom +</button><button type="button" id="zoom-out">zoom −</button>
            </form>
            <p class="muted">Ancestors on the left, descendants on the right; arrows follow the data. Click a run to \
            open it, an artifact to follow the lineage from it.
            """
        if !diagram.folded.isEmpty && !all {
            let count = diagram.folded.values.reduce(0, +)
            body +=
                " \(count) produced artifact\(count == 1 ? "" : "s") that nothing used "
                + "\(count == 1 ? "is" : "are") folded: <a href=\"/lineage?ref=\(encoded)&all=1\">show all</a>."
        }
        body += "</p>\n<div class=\"lineage\" id=\"graph\">\n" + svg + "</div>\n"
        body += nodeTable(diagram, all: all)
        body += "<h2>As <code>mixmae lineage</code> prints it</h2>\n<p class=\"links\">"
        for direction in ["up", "down"] {
            body +=
                "<a href=\"/api/lineage?ref=\(encoded)&direction=\(direction)\">JSON --\(direction)</a> "
                + "<a href=\"/api/lineage.dot?ref=\(encoded)&direction=\(direction)\">DOT --\(direction)</a> "
        }
        body += "</p>\n"
        for (graph, flag) in [(up, "--up"), (down, "--down")] {
            let renderer = LineageRenderer(graph: graph, relativeTo: registry.home.path, foldUnusedArtifacts: !all)
            body += "<details><summary><code>mixmae lineage \(ref) \(flag)\(all ? " --all" : "")</code></summary>"
            body += "<pre>\(UILayout.escape(renderer.tree()))</pre></details>\n"
        }
        return UILayout.page(title: "lineage", active: .lineage, body: body, script: Self.script)
    }

    private func nodeTable(_ diagram: LineageDiagram, all: Bool) -> String {
        let rows = diagram.nodes.map { node -> String in
            let id = diagram.nodeID(node)
            let column = diagram.layers[node] ?? 0
            let place = column == 0 ? "root" : column < 0 ? "ancestor (\(-column))" : "descendant (\(column))"
            let open: String
            switch node {
            case .run(let run): open = "<a href=\"/run/\(run)\">open run \(run)</a>"
            case .artifact: open = ""
            }
            let follow =
                "<a href=\"/lineage?ref=\(UILayout.queryValue(id))\(all ? "&all=1" : "")\">lineage from here</a>"
            return "<tr><td><code>\(UILayout.escape(id.count > 20 ? String(id.prefix(19)) + "…" : id))</code></td>"
                + "<td>\(place)</td><td>\(open)</td><td>\(follow)</td></tr>"
        }
        return "<details><summary>\(diagram.nodes.count) nodes</summary><table>"
            + "<tr><th>node</th><th>place</th><th></th><th></th></tr>" + rows.joined() + "</table></details>\n"
    }

    private static let script = """
        let scale = 1;
        const svg = document.querySelector('#graph svg');
        const width = svg.getAttribute('width'), height = svg.getAttribute('height');
        function zoom(by) {
          scale = Math.min(3, Math.max(0.3, scale * by));
          svg.setAttribute('width', width * scale);
          svg.setAttribute('height', height * scale);
        }
        document.getElementById('zoom-in').onclick = () => zoom(1.25);
        document.getElementById('zoom-out').onclick = () => zoom(0.8);
        """
}
