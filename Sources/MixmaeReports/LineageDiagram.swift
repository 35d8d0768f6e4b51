import Foundation
import MixmaeRuns

/// A run's lineage up (where it came from) and down (what came from it) in one picture,
/// laid out in layers by distance from the run, data flowing left to right: ancestors on the
/// left, the run in the middle column, descendants on the right. Drawn as SVG with no
/// outside tool.
///
/// As in ``LineageRenderer/tree()``, a downward walk leaves out artifacts a run produced that
/// nothing used, other than its latest `checkpoint.last` and `checkpoint.best`; their number
/// per run is in ``folded``.
///
/// ```swift
/// let diagram = LineageDiagram(
///     up: try registry.lineage(of: .run(3), direction: .up),
///     down: try registry.lineage(of: .run(3), direction: .down))
/// html += diagram.svgElement()
/// ```
public struct LineageDiagram {
    /// An arrow in the direction data flowed, with every role that links the two nodes.
    public struct Edge: Equatable {
        public let from: LineageNode
        public let to: LineageNode
        public let roles: [ArtifactRole]
    }

    public let root: LineageNode
    /// Every drawn node, in discovery order (the root first).
    public let nodes: [LineageNode]
    /// Each node's column: 0 for the root, -1, -2, ... for ancestors, 1, 2, ... for descendants.
    public let layers: [LineageNode: Int]
    public let edges: [Edge]
    /// Per run: how many produced artifacts nothing used were left out.
    public let folded: [RunID: Int]
    private let runs: [RunID: RunRecord]
    private let artifacts: [ArtifactID: Artifact]
    private let fileStates: [ArtifactID: ArtifactFileState]

    /// Merges an upward and a downward graph from the same root; `foldUnused: false` draws
    /// every produced artifact, as `mixmae lineage --format dot` lists them.
    public init(up: LineageGraph, down: LineageGraph, foldUnused: Bool = true) {
        precondition(up.root == down.root, "LineageDiagram: the graphs start at different nodes")
        root = up.root
        runs = up.runs.merging(down.runs) { a, _ in a }
        artifacts = up.artifacts.merging(down.artifacts) { a, _ in a }
        fileStates = up.fileStates.merging(down.fileStates) { a, _ in a }
        var layers: [LineageNode: Int] = [up.root: 0]
        var nodes = [up.root]
        var edges: [Edge] = []
        var folded: [RunID: Int] = [:]
        for (graph, sign) in [(up, -1), (down, 1)] {
            var frontier = [graph.root]
            var depth = 0
            while !frontier.isEmpty {
                depth += 1
                var next: [LineageNode] = []
                for node in frontier {
                    var steps = graph.next(from: node)
                    if foldUnused, sign > 0, case .run(let id) = node {
                        let kept = Self.keptDownward(steps, from: id, in: graph)
                        if kept.count < steps.count { folded[id, default: 0] += steps.count - kept.count }
                        steps = kept
                    }
                    for step in steps {
                        let edge =
                            sign < 0
                            ? Edge(from: step.node, to: node, roles: step.roles)
                            : Edge(from: node, to: step.node, roles: step.roles)
                        if !edges.contains(where: { $0.from == edge.from && $0.to == edge.to }) {
                            edges.append(edge)
                        }
                        if layers[step.node] == nil {
                            layers[step.node] = sign * depth
                            nodes.append(step.node)
                            next.append(step.node)
                        }
                    }
                }
                frontier = next
            }
        }
        self.layers = layers
        self.nodes = nodes
        self.edges = edges
        self.folded = folded
    }

    /// The steps down from a run worth drawing: artifacts something used, and the latest
    /// `checkpoint.last` and `checkpoint.best`.
    private static func keptDownward(_ steps: [LineageStep], from run: RunID, in graph: LineageGraph)
        -> [LineageStep]
    {
        let current = Set(
            [ArtifactRole.checkpointLast, .checkpointBest].compactMap { graph.latestProduced(by: run, role: $0) })
        return steps.filter { step in
            guard case .artifact(let id) = step.node else { return true }
            return current.contains(id) || !graph.next(from: step.node).isEmpty
        }
    }

    // MARK: Drawing

    private static let nodeWidth = 176.0
    private static let nodeHeight = 52.0
    private static let columnGap = 112.0
    private static let rowGap = 18.0
    private static let margin = 12.0

    /// Where each node's box is (top-left corner).
    public func positions() -> [LineageNode: (x: Double, y: Double)] {
        let lowest = layers.values.min() ?? 0
        let columns = Dictionary(grouping: nodes, by: { layers[$0]! })
        let tallest = columns.values.map(\.count).max() ?? 1
        let fullHeight = Double(tallest) * (Self.nodeHeight + Self.rowGap) - Self.rowGap
        var positions: [LineageNode: (x: Double, y: Double)] = [:]
        for (layer, column) in columns {
            let x = Self.margin + Double(layer - lowest) * (Self.nodeWidth + Self.columnGap)
            let height = Double(column.count) * (Self.nodeHeight + Self.rowGap) - Self.rowGap
            for (row, node) in column.enumerated() {
                let y = Self.margin + (fullHeight - height) / 2 + Double(row) * (Self.nodeHeight + Self.rowGap)
                positions[node] = (x, y)
            }
        }
        return positions
    }

    /// The diagram as an `<svg>` element (to place inline in HTML or save as a file).
    public func svgElement() -> String { svgElement(link: { _ in nil }) }

    /// The node id `mixmae lineage --format dot` and `--format json` use: `run:12` or
    /// `sha256:<full hash>`.
    public func nodeID(_ node: LineageNode) -> String {
        switch node {
        case .run(let id): return "run:\(id)"
        case .artifact(let id): return "sha256:" + (artifacts[id]?.sha256 ?? "#\(id)")
        }
    }

    /// The diagram with each node's box a link to `link(node)` (none where it gives nil), and
    /// every box marked with its node id in `data-node`, as an interactive page needs it.
    package func svgElement(link: (LineageNode) -> String?) -> String {
        let positions = positions()
        let width = (positions.values.map(\.x).max() ?? 0) + Self.nodeWidth + Self.margin
        let height = (positions.values.map(\.y).max() ?? 0) + Self.nodeHeight + Self.margin
        var out: [String] = []
        out.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" "
                + "viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"Helvetica, Arial, sans-serif\" "
                + "font-size=\"11\" role=\"img\" aria-label=\"lineage\">")
        out.append("<title>\(XMLText.escape(title))</title>")
        out.append(
            "<defs><marker id=\"mixmae-lineage-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
                + "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
                + "<path d=\"M0 0 L10 5 L0 10 z\" fill=\"#666666\"/></marker></defs>")
        for edge in edges {
            guard let from = positions[edge.from], let to = positions[edge.to] else { continue }
            let (x1, y1) = (from.x + Self.nodeWidth, from.y + Self.nodeHeight / 2)
            let (x2, y2) = (to.x, to.y + Self.nodeHeight / 2)
            let bend = max(40, abs(x2 - x1) / 2)
            out.append(
                "<path d=\"M\(n(x1)) \(n(y1)) C\(n(x1 + bend)) \(n(y1)) \(n(x2 - bend)) \(n(y2)) \(n(x2)) \(n(y2))\" "
                    + "fill=\"none\" stroke=\"#666666\" stroke-width=\"1.2\" marker-end=\"url(#mixmae-lineage-arrow)\"/>"
            )
            // One line per role, stacked above the middle of the arrow.
            for (index, role) in edge.roles.enumerated() {
                let y = (y1 + y2) / 2 - 4 - Double(edge.roles.count - 1 - index) * 12
                out.append(
                    "<text x=\"\(n((x1 + x2) / 2))\" y=\"\(n(y))\" text-anchor=\"middle\" "
                        + "font-size=\"10\" fill=\"#333333\" stroke=\"#ffffff\" stroke-width=\"3\" "
                        + "paint-order=\"stroke\">\(XMLText.escape(role.rawValue))</text>")
            }
        }
        for node in nodes {
            guard let position = positions[node] else { continue }
            let group = "<g class=\"node\" data-node=\"\(XMLText.escape(nodeID(node)))\">"
            if let href = link(node) {
                out.append("<a href=\"\(XMLText.escape(href))\">" + group)
                out.append(box(node, at: position))
                out.append("</g></a>")
            } else {
                out.append(group)
                out.append(box(node, at: position))
                out.append("</g>")
            }
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    private var title: String {
        switch root {
        case .run(let id): return "lineage of run \(id)"
        case .artifact(let id): return "lineage of sha256:\(artifacts[id]?.shortHash ?? "#\(id)")"
        }
    }

    private func box(_ node: LineageNode, at position: (x: Double, y: Double)) -> String {
        let (x, y) = position
        let isRoot = node == root
        let stroke = isRoot ? "stroke=\"#222222\" stroke-width=\"2.5\"" : "stroke=\"#888888\" stroke-width=\"1\""
        var lines: [String]
        var out: [String] = []
        switch node {
        case .run(let id):
            let run = runs[id]
            let fill = run.map { $0.status.fillColor } ?? "#eeeeee"
            out.append(
                "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(Self.nodeWidth))\" height=\"\(n(Self.nodeHeight))\" "
                    + "rx=\"8\" fill=\"\(fill)\" \(stroke)/>")
            lines = [
                "run \(id)" + (isRoot ? "  (this run)" : ""), run?.task ?? "",
                run.map { "\($0.status)  \(RegistryDates.display($0.startedAt).prefix(16))" } ?? "",
            ]
        case .artifact(let id):
            let artifact = artifacts[id]
            out.append(
                "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(Self.nodeWidth))\" height=\"\(n(Self.nodeHeight))\" "
                    + "fill=\"#ffffff\" \(stroke) stroke-dasharray=\"4 2\"/>")
            var state = ""
            switch fileStates[id] ?? .present {
            case .present: break
            case .missing: state = "  missing"
            case .overwritten: state = "  overwritten"
            case .deleted: state = "  deleted"
            case .moved: state = "  moved"
            }
            let name = artifact.map { ($0.path as NSString).lastPathComponent } ?? ""
            lines = [
                "sha256:" + (artifact?.shortHash ?? "#\(id)"),
                name.count > 28 ? String(name.prefix(27)) + "…" : name,
                artifact.map { "\($0.kind)  \(ByteCount.format($0.size))\(state)" } ?? "",
            ]
        }
        for (index, line) in lines.enumerated() {
            let weight = index == 0 ? " font-weight=\"bold\"" : ""
            out.append(
                "<text x=\"\(n(x + 10))\" y=\"\(n(y + 16 + Double(index) * 14))\" fill=\"#222222\"\(weight)>"
                    + "\(XMLText.escape(line))</text>")
        }
        return out.joined(separator: "\n")
    }

    private func n(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
