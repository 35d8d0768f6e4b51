import Foundation
import MixmaeRuns
import TestSupport
import Testing

/// pretrain (run A) -> classification finetune from A's checkpoint (run B) -> a second
/// finetune from B's best checkpoint (run C), with real files as checkpoints.
struct ThreeGenerations {
    let directory: TemporaryFolder
    let registry: RunRegistry
    let pretrain: RunID
    let finetune: RunID
    let second: RunID
    let pretrainLast: Artifact
    let pretrainEpoch: Artifact
    let finetuneLast: Artifact
    let finetuneBest: Artifact
    let secondLast: Artifact

    init() throws {
        directory = try TemporaryFolder("lineage")
        registry = try RunRegistry(home: directory.url, options: quietOptions())

        let a = try registry.beginRun(
            task: "pretrain", recipe: RecipeSnapshot(text: "task: pretrain\nepochs: 2\n"), seed: 1,
            plugins: [
                PluginRecord(id: "swin", version: "1.0.0", libraryPath: "/lib/libswin.so", librarySHA256: "ab")
            ])
        try a.log(step: 1, ["loss": 0.9])
        pretrainEpoch = try a.recordProduced(
            fileAt: try writeCheckpoint(a.outputDirectory.appendingPathComponent("epoch-1.safetensors"), "A e1"),
            role: .checkpointEpoch, step: 1)
        pretrainLast = try a.recordProduced(
            fileAt: try writeCheckpoint(a.outputDirectory.appendingPathComponent("last.safetensors"), "A e2"),
            role: .checkpointLast, step: 2)
        try a.finish(.finished)

        let b = try registry.beginRun(
            task: "finetune-cls", recipe: RecipeSnapshot(text: "task: finetune-cls\ninit: run:\(a.id)\n"), seed: 2)
        let used = try b.use(try WeightsReference(parsing: "run:\(a.id)"), role: .initBackbone)
        #expect(used.artifact.sha256 == pretrainLast.sha256)
        finetuneBest = try b.recordProduced(
            fileAt: try writeCheckpoint(b.outputDirectory.appendingPathComponent("best.safetensors"), "B best"),
            role: .checkpointBest, step: 1)
        finetuneLast = try b.recordProduced(
            fileAt: try writeCheckpoint(b.outputDirectory.appendingPathComponent("last.safetensors"), "B last"),
            role: .checkpointLast, step: 2)
        try b.finish(.finished)

        let c = try registry.beginRun(
            task: "finetune-cls", recipe: RecipeSnapshot(text: "task: finetune-cls\ninit: run:\(b.id):best\n"), seed: 3)
        try c.use(try WeightsReference(parsing: "run:\(b.id):best"), role: .initBackbone)
        secondLast = try c.recordProduced(
            fileAt: try writeCheckpoint(c.outputDirectory.appendingPathComponent("last.safetensors"), "C last"),
            role: .checkpointLast, step: 1)
        try c.finish(.finished)

        pretrain = a.id
        finetune = b.id
        second = c.id
    }

    func runs(_ graph: LineageGraph) -> Set<RunID> { Set(graph.runs.keys) }
    func hashes(_ graph: LineageGraph) -> Set<String> { Set(graph.artifacts.values.map(\.sha256)) }
}

@Suite struct LineageTests {
    @Test func upFromEachGeneration() throws {
        let chain = try ThreeGenerations()
        let registry = chain.registry

        let fromC = try registry.lineage(of: .run(chain.second), direction: .up)
        #expect(chain.runs(fromC) == [chain.pretrain, chain.finetune, chain.second])
        // C used B's best; B used A's last. B's last and A's epoch checkpoint are not ancestors.
        #expect(chain.hashes(fromC) == [chain.finetuneBest.sha256, chain.pretrainLast.sha256])

        let fromCLast = try registry.lineage(of: .artifact(chain.secondLast.id), direction: .up)
        #expect(chain.runs(fromCLast) == [chain.pretrain, chain.finetune, chain.second])
        #expect(
            chain.hashes(fromCLast)
                == [chain.secondLast.sha256, chain.finetuneBest.sha256, chain.pretrainLast.sha256])

        let fromB = try registry.lineage(of: .run(chain.finetune), direction: .up)
        #expect(chain.runs(fromB) == [chain.pretrain, chain.finetune])
        #expect(chain.hashes(fromB) == [chain.pretrainLast.sha256])

        let fromA = try registry.lineage(of: .run(chain.pretrain), direction: .up)
        #expect(chain.runs(fromA) == [chain.pretrain])
        #expect(fromA.artifacts.isEmpty && fromA.edges.isEmpty)

        let edges = Set(fromC.edges.map { "\($0.run) \($0.direction.rawValue) \($0.role)" })
        #expect(
            edges == [
                "\(chain.second) used init.backbone", "\(chain.finetune) produced checkpoint.best",
                "\(chain.finetune) used init.backbone", "\(chain.pretrain) produced checkpoint.last",
            ])
    }

    @Test func downFromEachGeneration() throws {
        let chain = try ThreeGenerations()
        let registry = chain.registry

        let fromA = try registry.lineage(of: .run(chain.pretrain), direction: .down)
        #expect(chain.runs(fromA) == [chain.pretrain, chain.finetune, chain.second])
        #expect(
            chain.hashes(fromA)
                == [
                    chain.pretrainEpoch.sha256, chain.pretrainLast.sha256, chain.finetuneBest.sha256,
                    chain.finetuneLast.sha256, chain.secondLast.sha256,
                ])

        let fromALast = try registry.lineage(of: .artifact(chain.pretrainLast.id), direction: .down)
        #expect(chain.runs(fromALast) == [chain.finetune, chain.second])

        // Nothing used A's epoch checkpoint.
        let fromEpoch = try registry.lineage(of: .artifact(chain.pretrainEpoch.id), direction: .down)
        #expect(fromEpoch.runs.isEmpty)

        let fromB = try registry.lineage(of: .run(chain.finetune), direction: .down)
        #expect(chain.runs(fromB) == [chain.finetune, chain.second])
        // B's last checkpoint is a leaf; the second finetune came from B's best.
        let fromBLast = try registry.lineage(of: .artifact(chain.finetuneLast.id), direction: .down)
        #expect(fromBLast.runs.isEmpty)

        let fromC = try registry.lineage(of: .run(chain.second), direction: .down)
        #expect(chain.runs(fromC) == [chain.second])
        #expect(chain.hashes(fromC) == [chain.secondLast.sha256])
    }

    @Test func referencesNameRunsHashesAndFiles() throws {
        let chain = try ThreeGenerations()
        let registry = chain.registry
        #expect(try registry.lineageNode(for: "\(chain.finetune)") == .run(chain.finetune))
        #expect(try registry.lineageNode(for: "run:\(chain.second)") == .run(chain.second))
        #expect(try registry.lineageNode(for: "run:\(chain.finetune):best") == .artifact(chain.finetuneBest.id))
        #expect(try registry.lineageNode(for: "run:\(chain.second):last") == .artifact(chain.secondLast.id))
        #expect(
            "\(thrownError { _ = try registry.lineageNode(for: "run:\(chain.second):worst") }!)".contains(
                "use last or best"))
        #expect(
            try registry.lineageNode(for: "sha256:" + chain.finetuneBest.sha256.prefix(16))
                == .artifact(chain.finetuneBest.id))
        #expect(try registry.lineageNode(for: chain.secondLast.path) == .artifact(chain.secondLast.id))
        let unknown = try writeCheckpoint(chain.directory.fileURL("stranger.bin"), "never recorded")
        #expect("\(thrownError { _ = try registry.lineageNode(for: unknown.path) }!)".contains("never seen"))
        #expect("\(thrownError { _ = try registry.lineageNode(for: "999") }!)".contains("no run 999"))
        #expect("\(thrownError { _ = try registry.lineageNode(for: "zz-top") }!)".contains("not a run id"))
    }

    @Test func treeDotAndJSONRenderTheChain() throws {
        let chain = try ThreeGenerations()
        let graph = try chain.registry.lineage(of: .artifact(chain.secondLast.id), direction: .up)
        let renderer = LineageRenderer(graph: graph, relativeTo: chain.directory.url.path)
        let tree = renderer.tree().split(separator: "\n").map(String.init)
        #expect(tree.count == 6)
        #expect(tree[0].hasPrefix("sha256:\(chain.secondLast.shortHash)  checkpoint"))
        #expect(tree[0].hasSuffix("runs/\(chain.second)/last.safetensors"))
        #expect(tree[1].hasPrefix("└── produced as checkpoint.last by run \(chain.second)  finetune-cls  FINISHED"))
        #expect(tree[2].hasPrefix("    └── used init.backbone: sha256:\(chain.finetuneBest.shortHash)"))
        #expect(tree[3].hasPrefix("        └── produced as checkpoint.best by run \(chain.finetune)"))
        #expect(tree[4].hasPrefix("            └── used init.backbone: sha256:\(chain.pretrainLast.shortHash)"))
        #expect(tree[5].hasPrefix("                └── produced as checkpoint.last by run \(chain.pretrain)  pretrain"))

        let dot = renderer.dot()
        #expect(dot.hasPrefix("digraph lineage {"))
        #expect(
            dot.contains(
                "\"sha256:\(chain.pretrainLast.sha256)\" -> \"run:\(chain.finetune)\" [label=\"init.backbone\"]"))
        #expect(
            dot.contains("\"run:\(chain.second)\" -> \"sha256:\(chain.secondLast.sha256)\" [label=\"checkpoint.last\"]")
        )

        let json = try JSONSerialization.jsonObject(with: Data(try renderer.json().utf8)) as! [String: Any]
        #expect(json["root"] as? String == "sha256:\(chain.secondLast.sha256)")
        #expect(json["direction"] as? String == "up")
        #expect((json["runs"] as? [[String: Any]])?.count == 3)
        #expect((json["edges"] as? [[String: Any]])?.count == 5)
    }

    @Test func downTreeFoldsUnusedEarlierCheckpoints() throws {
        let chain = try ThreeGenerations()
        let graph = try chain.registry.lineage(of: .run(chain.pretrain), direction: .down)
        let folded = LineageRenderer(graph: graph).tree()
        #expect(folded.contains("… 1 earlier produced artifact that nothing used (checkpoint.epoch)"))
        #expect(!folded.contains(chain.pretrainEpoch.shortHash))
        let all = LineageRenderer(graph: graph, foldUnusedArtifacts: false).tree()
        #expect(all.contains("produced checkpoint.epoch: sha256:\(chain.pretrainEpoch.shortHash)"))
    }

    @Test func parentsAndChildrenOfARun() throws {
        let chain = try ThreeGenerations()
        let details = try chain.registry.details(ofRun: chain.finetune)
        #expect(details.parents.map(\.runID) == [chain.pretrain])
        #expect(details.parents.first?.role == .initBackbone)
        #expect(details.parents.first?.sha256 == chain.pretrainLast.sha256)
        #expect(details.children.map(\.runID) == [chain.second])
        #expect(details.children.first?.sha256 == chain.finetuneBest.sha256)
        #expect(details.recipe.text == "task: finetune-cls\ninit: run:\(chain.pretrain)\n")
    }
}
