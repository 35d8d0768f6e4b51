import Foundation
import MixmaeSupport

/// Prints a ``LineageGraph`` as an indented tree, as Graphviz DOT, or as JSON.
///
/// ```swift
/// let renderer = LineageRenderer(graph: graph)
/// print(renderer.tree())          // for people
/// try renderer.dot().write(...)   // `dot -Tsvg lineage.dot > lineage.svg`
/// let json = try renderer.json()  // for scripts
/// ```
public struct LineageRenderer {
    public let graph: LineageGraph
    /// Paths under this folder are shown relative to it.
    public var relativeTo: String
    /// In a downward tree, fold the artifacts a run produced that nothing used, other than
    /// its latest `checkpoint.last` and `checkpoint.best`, into one summary line per run.
    public var foldUnusedArtifacts: Bool

    public init(
        graph: LineageGraph, relativeTo: String = FileManager.default.currentDirectoryPath,
        foldUnusedArtifacts: Bool = true
    ) {
        self.graph = graph
        self.relativeTo = relativeTo
        self.foldUnusedArtifacts = foldUnusedArtifacts
    }

    // MARK: Tree

    /// The graph as a tree from its root. A node reached twice is printed again with
    /// "(see above)" and not expanded a second time.
    ///
    /// ```
    /// run 1  pretrain  FINISHED  2026-11-27 22:19:03
    /// └── produced checkpoint.last: sha256:9ab1c0ffee12  checkpoint  2.0 KiB  .mixmae/runs/1/last.safetensors
    ///     └── used as init.backbone by run 2  classify  FINISHED  2026-11-27 22:25:40
    /// ```
    public func tree() -> String {
        var lines = [label(of: graph.root)]
        var expanded: Set<LineageNode> = [graph.root]
        appendChildren(of: graph.root, prefix: "", into: &lines, expanded: &expanded)
        return lines.joined(separator: "\n") + "\n"
    }

    private func appendChildren(
        of node: LineageNode, prefix: String, into lines: inout [String], expanded: inout Set<LineageNode>
    ) {
        var children = graph.next(from: node)
        var folded: [LineageStep] = []
        if foldUnusedArtifacts, graph.direction == .down, case .run(let run) = node {
            let current = Set(
                [ArtifactRole.checkpointLast, .checkpointBest].compactMap {
                    graph.latestProduced(by: run, role: $0)
                })
            let keep = children.filter { child in
                guard case .artifact(let id) = child.node else { return true }
                return current.contains(id) || !graph.next(from: child.node).isEmpty
            }
            folded = children.filter { !keep.contains($0) }
            children = keep
        }
        for (index, child) in children.enumerated() {
            let isLast = index == children.count - 1 && folded.isEmpty
            let branch = isLast ? "└── " : "├── "
            let seen = expanded.contains(child.node)
            lines.append(prefix + branch + stepText(child) + label(of: child.node) + (seen ? "  (see above)" : ""))
            if !seen {
                expanded.insert(child.node)
                appendChildren(
                    of: child.node, prefix: prefix + (isLast ? "    " : "│   "), into: &lines, expanded: &expanded)
            }
        }
        if !folded.isEmpty {
            let roles = Set(folded.flatMap { $0.roles.map(\.rawValue) }).sorted().joined(separator: ", ")
            let noun = folded.count == 1 ? "artifact" : "artifacts"
            lines.append(
                prefix + "└── … \(folded.count) earlier produced \(noun) that nothing used (\(roles)); "
                    + "--all lists them")
        }
    }

    private func stepText(_ step: LineageStep) -> String {
        let roles = step.roles.map(\.rawValue).joined(separator: ", ")
        switch (graph.direction, step.direction) {
        case (.up, .produced): return "produced as \(roles) by "
        case (.up, .used): return "used \(roles): "
        case (.down, .produced): return "produced \(roles): "
        case (.down, .used): return "used as \(roles) by "
        }
    }

    private func label(of node: LineageNode) -> String {
        switch node {
        case .run(let id):
            guard let run = graph.runs[id] else { return "run \(id)" }
            return "run \(id)  \(run.task)  \(run.status)  \(RegistryDates.display(run.startedAt))"
        case .artifact(let id):
            guard let artifact = graph.artifacts[id] else { return "artifact #\(id)" }
            var text =
                "sha256:\(artifact.shortHash)  \(artifact.kind)  \(ByteCount.format(artifact.size))  "
                + displayPath(artifact.path, relativeTo: relativeTo)
            switch graph.fileStates[id] ?? .present {
            case .present: break
            case .missing: text += "  (missing)"
            case .overwritten: text += "  (overwritten since)"
            case .deleted: text += "  (deleted by gc)"
            case .moved: text += "  (moved)"
            }
            return text
        }
    }

    // MARK: DOT

    /// The graph in Graphviz DOT, data flowing left to right: artifact -> run that used it,
    /// run -> artifact it produced. Runs are boxes coloured by status; the root is bold.
    public func dot() -> String {
        var lines = [
            "digraph lineage {", "  rankdir=LR;", "  node [fontname=\"Helvetica\", fontsize=10];",
            "  edge [fontname=\"Helvetica\", fontsize=9];",
        ]
        for id in graph.runs.keys.sorted() {
            let run = graph.runs[id]!
            let bold = graph.root == .run(id) ? ", penwidth=2.5" : ""
            lines.append(
                "  \(quoted(nodeID(.run(id)))) [shape=box, style=\"rounded,filled\", fillcolor=\"\(run.status.fillColor)\", "
                    + "label=\(quoted("run \(id)\n\(run.task)\n\(run.status)"))\(bold)];")
        }
        for id in graph.artifacts.keys.sorted() {
            let artifact = graph.artifacts[id]!
            let bold = graph.root == .artifact(id) ? ", penwidth=2.5" : ""
            let name = (artifact.path as NSString).lastPathComponent
            lines.append(
                "  \(quoted(nodeID(.artifact(id)))) [shape=note, "
                    + "label=\(quoted("\(artifact.shortHash)\n\(artifact.kind)\n\(name)"))\(bold)];")
        }
        // One arrow per pair of nodes, labelled with every role that links them.
        var order: [String] = []
        var labels: [String: [String]] = [:]
        for edge in graph.edges {
            let run = quoted(nodeID(.run(edge.run)))
            let artifact = quoted(nodeID(.artifact(edge.artifact)))
            let (from, to) = edge.direction == .used ? (artifact, run) : (run, artifact)
            let arrow = "\(from) -> \(to)"
            if labels[arrow] == nil { order.append(arrow) }
            labels[arrow, default: []].append(edge.role.rawValue)
        }
        for arrow in order {
            lines.append("  \(arrow) [label=\(quoted(labels[arrow]!.joined(separator: "\n")))];")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    private func quoted(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }

    // MARK: JSON

    /// The node id used in DOT and JSON: `run:12` or `sha256:<full hash>`.
    public func nodeID(_ node: LineageNode) -> String {
        switch node {
        case .run(let id): return "run:\(id)"
        case .artifact(let id): return "sha256:" + (graph.artifacts[id]?.sha256 ?? "#\(id)")
        }
    }

    /// The graph as JSON: `{root, direction, runs: [...], artifacts: [...], fileStates:
    /// {"sha256:...": "present"}, edges: [{from, to, event, role}]}`, edges in data-flow
    /// direction, dates in ISO 8601.
    public func json() throws -> String {
        struct Edge: Encodable {
            let from: String
            let to: String
            let event: EventDirection
            let role: ArtifactRole
        }
        struct Document: Encodable {
            let root: String
            let direction: LineageDirection
            let runs: [RunRecord]
            let artifacts: [Artifact]
            let fileStates: [String: ArtifactFileState]
            let edges: [Edge]
        }
        let document = Document(
            root: nodeID(graph.root), direction: graph.direction,
            runs: graph.runs.keys.sorted().map { graph.runs[$0]! },
            artifacts: graph.artifacts.keys.sorted().map { graph.artifacts[$0]! },
            fileStates: Dictionary(
                uniqueKeysWithValues: graph.fileStates.map { (nodeID(.artifact($0.key)), $0.value) }),
            edges: graph.edges.map { edge in
                let run = nodeID(.run(edge.run))
                let artifact = nodeID(.artifact(edge.artifact))
                return edge.direction == .used
                    ? Edge(from: artifact, to: run, event: .used, role: edge.role)
                    : Edge(from: run, to: artifact, event: .produced, role: edge.role)
            })
        return try JSONOutput.encode(document)
    }
}

/// Human-readable byte counts.
public enum ByteCount {
    /// `512 B`, `2.0 KiB`, `13.4 MiB`, `1.2 GiB`.
    public static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}

extension RunStatus {
    /// The background colour a run of this status gets in lineage pictures.
    public var fillColor: String {
        switch self {
        case .finished: return "#d9ead3"
        case .running: return "#cfe2f3"
        case .failed: return "#f4cccc"
        case .killed: return "#fce5cd"
        case .crashed: return "#e6b8af"
        }
    }
}
