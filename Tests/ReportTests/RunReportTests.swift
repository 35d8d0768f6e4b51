import Foundation
import MixmaeData
import MixmaeReports
import MixmaeRuns
import TestSupport
import Testing

/// Reports and lineage pictures over a real registry file with hand-made runs (no training).
@Suite struct RunReportTests {
    /// pretrain (1) -> finetune (2) -> eval (3), with files, metrics and a picture.
    private func chain(in folder: TemporaryFolder) throws -> RunRegistry {
        var options = RunRegistry.Options()
        options.heartbeatInterval = 0
        let registry = try RunRegistry(home: URL(fileURLWithPath: folder.file("home")), options: options)
        let pretrain = try registry.beginRun(
            task: "pretrain", recipe: RecipeSnapshot(text: "task: pretrain\nnote: \"<b>&amp;</b>\"\n"), seed: 3)
        for step in 1...4 {
            try pretrain.log(step: Int64(step * 10), ["loss": 1 / Double(step), "lr": 1e-4 * Double(step)])
        }
        // Logged once: in the metrics table, but no chart of one dot.
        try pretrain.log(step: 40, ["gflops": 4.6])
        let weights = pretrain.outputDirectory.appendingPathComponent("last.safetensors")
        try Data("pretrained weights".utf8).write(to: weights)
        try pretrain.recordProduced(fileAt: weights, role: .checkpointLast, step: 40)
        let epoch = pretrain.outputDirectory.appendingPathComponent("epoch-0001.safetensors")
        try Data("epoch one".utf8).write(to: epoch)
        try pretrain.recordProduced(fileAt: epoch, role: .checkpointEpoch, step: 20)
        let pictures = pretrain.outputDirectory.appendingPathComponent("pictures")
        try FileManager.default.createDirectory(at: pictures, withIntermediateDirectories: true)
        for epoch in [1, 2] {
            try Image(width: 6, height: 4, channels: 3, filledWith: 200)
                .write(
                    toFile: pictures.appendingPathComponent(String(format: "reconstruction-epoch-%04d.png", epoch)).path
                )
        }
        try pretrain.finish(.finished)

        let finetune = try registry.beginRun(
            task: "classify", recipe: RecipeSnapshot(text: "task: classify\n"), seed: 0)
        try finetune.use(.run(1, .last), role: .initBackbone)
        try finetune.log(step: 5, ["top1": 0.5, "top5": 0.9])
        let best = finetune.outputDirectory.appendingPathComponent("best.safetensors")
        try Data("finetuned".utf8).write(to: best)
        try finetune.recordProduced(fileAt: best, role: .checkpointBest, step: 5)
        try finetune.finish(.failed("out of <memory>"))

        let evaluation = try registry.beginRun(task: "eval", recipe: RecipeSnapshot(text: "task: classify\n"), seed: 0)
        try evaluation.use(.run(2, .best), role: .evalCheckpoint)
        try evaluation.log(step: 5, ["top1": 0.5])
        try evaluation.finish(.finished)
        return registry
    }

    @Test func thePageIsWellFormedAndReferencesExistingFiles() throws {
        let folder = try TemporaryFolder("report")
        let registry = try chain(in: folder)
        let url = try RunReport(registry: registry, run: 1).write()
        #expect(url.path == folder.file("home/runs/1/report.html"))
        let page = try HTMLSummary(contentsOfFile: url.path)
        #expect(
            page.references == ["pictures/reconstruction-epoch-0002.png", "pictures/reconstruction-epoch-0001.png"])
        for reference in page.references { #expect(page.resolves(reference)) }
        // The recipe is escaped, so it reads back exactly.
        #expect(page.text.contains("note: \"<b>&amp;</b>\""))
        #expect(page.text.contains("0.25") && page.text.contains("0.0004"))
        // Two charts (loss, lr; not gflops, logged once) and the lineage picture; the curve files too.
        #expect(page.svgCount == 3)
        let curves = try FileManager.default.contentsOfDirectory(atPath: folder.file("home/runs/1/curves")).sorted()
        #expect(curves == ["loss.svg", "lr.svg"])
        // The epoch checkpoint nothing used is folded out of the picture, and said so.
        #expect(page.text.contains("run 1: 1"))

        let failed = try HTMLSummary(contentsOfFile: try RunReport(registry: registry, run: 2).write().path)
        #expect(failed.text.contains("out of <memory>"))
        #expect(failed.text.contains("init.backbone") && failed.text.contains("eval.checkpoint"))
    }

    @Test func theLineagePictureHasAncestorsLeftAndDescendantsRight() throws {
        let folder = try TemporaryFolder("report")
        let registry = try chain(in: folder)
        let diagram = LineageDiagram(
            up: try registry.lineage(of: .run(2), direction: .up),
            down: try registry.lineage(of: .run(2), direction: .down))
        let pretrainCheckpoint = try registry.checkpoint(ofRun: 1, role: .checkpointLast).artifact.id
        let finetuneCheckpoint = try registry.checkpoint(ofRun: 2, role: .checkpointBest).artifact.id
        #expect(diagram.layers[.run(2)] == 0)
        #expect(diagram.layers[.artifact(pretrainCheckpoint)] == -1)
        #expect(diagram.layers[.run(1)] == -2)
        #expect(diagram.layers[.artifact(finetuneCheckpoint)] == 1)
        #expect(diagram.layers[.run(3)] == 2)
        #expect(diagram.edges.count == 4)
        #expect(
            diagram.edges.contains {
                $0.from == .artifact(pretrainCheckpoint) && $0.to == .run(2) && $0.roles == [.initBackbone]
            })
        let positions = diagram.positions()
        #expect(positions[.run(1)]!.x < positions[.run(2)]!.x && positions[.run(2)]!.x < positions[.run(3)]!.x)
        let svg = try SVGSummary(data: Data(diagram.svgElement().utf8))
        #expect(svg.paths.count == 4, "one arrow per edge")
        #expect(svg.text.contains("run 2  (this run)") && svg.text.contains("eval.checkpoint"))
    }

    @Test func anUnknownRunIsAnError() throws {
        let folder = try TemporaryFolder("report")
        let registry = try chain(in: folder)
        #expect(throws: RegistryError.self) { try RunReport(registry: registry, run: 42).write() }
    }
}
