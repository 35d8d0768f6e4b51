import ArgumentParser
import Foundation
import MixmaeRuns

/// `mixmae lineage REF --up|--down`.
struct LineageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Show where a run or checkpoint came from (--up) or what came from it (--down).",
        discussion: """
            REF is a run id (12 or run:12), a run's checkpoint (run:12:best, run:12:last), \
            an artifact hash prefix (sha256:3fa9c1, or 3fa9c1), \
            or a checkpoint file (matched by content, so a moved file is found). Checkpoints \
            are linked to runs by content hash. --format dot writes Graphviz: \
            `mixmae lineage 12 --down --format dot | dot -Tsvg > lineage.svg`.
            """
    )

    @OptionGroup var home: HomeOptions

    @Argument(help: "A run id, run:ID:best or run:ID:last, an artifact hash prefix, or a checkpoint path.")
    var ref: String

    @Flag(help: "Ancestors (the default).")
    var up = false

    @Flag(help: "Descendants.")
    var down = false

    @Flag(help: "In a --down tree, also list produced artifacts that nothing used.")
    var all = false

    @Option(help: "tree (for people), dot (Graphviz) or json (for scripts).")
    var format: Format = .tree

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case tree, dot, json
    }

    func validate() throws {
        if up && down { throw ValidationError("choose one of --up and --down") }
    }

    func run() throws {
        let registry = try home.open()
        let node = try registry.lineageNode(for: ref)
        let graph = try registry.lineage(of: node, direction: down ? .down : .up)
        let renderer = LineageRenderer(graph: graph, foldUnusedArtifacts: !all)
        switch format {
        case .tree: print(renderer.tree(), terminator: "")
        case .dot: print(renderer.dot(), terminator: "")
        case .json: print(try renderer.json(), terminator: "")
        }
    }
}
