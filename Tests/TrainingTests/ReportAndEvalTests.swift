import Foundation
import MixmaeRuns
import TestSupport
import Testing

/// Curves, `mixmae report` and `mixmae eval RECIPE --checkpoint REF` on real runs of the
/// built binary.
@Suite(.serialized) struct ReportAndEvalTests {
    /// Pretrain (run 1) then a two-epoch finetune from it (run 2).
    private func pretrainAndFinetune() throws -> TrainingWorkspace {
        let ws = try TrainingWorkspace(images: 160)
        try ws.pretrainRecipe(epochs: 2, batch: 16)
        let pretrain = try ws.mixmae(["train", "pretrain.yaml"])
        #expect(pretrain.status == 0, "\(pretrain.stderr)")
        try ws.classifyRecipe(name: "cls.yaml", initWeights: "run:1", epochs: 2)
        let finetune = try ws.mixmae(["train", "cls.yaml"])
        #expect(finetune.status == 0, "\(finetune.stderr)")
        return ws
    }

    @Test func curvesAreWrittenWhenARunEndsOnePathPerSeries() throws {
        let ws = try pretrainAndFinetune()
        for run: RunID in [1, 2] {
            let names = Set(try ws.registry.metrics(ofRun: run).map(\.name))
            let folder = ws.folder.file("home/runs/\(run)/curves")
            let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            #expect(files.contains("loss.svg") && files.contains("lr.svg"), "run \(run): \(files)")
            var plotted: [String] = []
            for file in files {
                let svg = try SVGSummary(contentsOfFile: folder + "/" + file)
                #expect(svg.root == "svg")
                #expect(svg.paths.count == svg.series.count, "\(file): one path per series")
                #expect(!svg.series.isEmpty, "\(file)")
                plotted += svg.series
            }
            // Every metric is drawn, once, but those logged once per run (a chart of one dot).
            let once = try ["gflops", "compute_tflops"].filter {
                try ws.registry.metrics(ofRun: run, named: $0).count == 1
            }
            #expect(once == ["gflops", "compute_tflops"], "run \(run)")
            #expect(plotted.sorted() == names.subtracting(once).sorted(), "run \(run)")
        }
        let accuracy = try SVGSummary(contentsOfFile: ws.folder.file("home/runs/2/curves/accuracy.svg"))
        #expect(accuracy.series == ["top1", "top5"])
        let loss = try SVGSummary(contentsOfFile: ws.folder.file("home/runs/2/curves/loss.svg"))
        #expect(loss.series == ["loss", "val_loss"])
        // The lr curve has one point per logged lr value.
        let lr = try SVGSummary(contentsOfFile: ws.folder.file("home/runs/2/curves/lr.svg"))
        let logged = try ws.registry.metrics(ofRun: 2, named: "lr").count
        #expect(lr.paths.first?.filter { $0 == "M" || $0 == "L" }.count == logged)
    }

    @Test func anInterruptedRunGetsCurvesToo() throws {
        let ws = try TrainingWorkspace(images: 160)
        try ws.pretrainRecipe(epochs: 3, batch: 16)
        let stopped = try ws.mixmae(["train", "pretrain.yaml", "--stop-after-steps", "12"])
        #expect(stopped.status == 130)
        #expect(try ws.registry.run(1)?.status == .killed)
        let svg = try SVGSummary(contentsOfFile: ws.folder.file("home/runs/1/curves/loss.svg"))
        #expect(svg.series == ["loss", "val_loss"])
    }

    @Test func reportReferencesOnlyFilesThatExistAndShowsMetricsAndRecipe() throws {
        let ws = try pretrainAndFinetune()
        for run: RunID in [1, 2] {
            let result = try ws.mixmae(["report", "\(run)"])
            #expect(result.status == 0, "\(result.stderr)")
            let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(path == ws.folder.file("home/runs/\(run)/report.html"))
            let page = try HTMLSummary(contentsOfFile: path)
            for reference in page.references {
                #expect(page.resolves(reference), "run \(run): \(reference) does not exist")
            }
            let details = try ws.registry.details(ofRun: run)
            for metric in details.metrics {
                #expect(page.text.contains(metric.name), "\(metric.name)")
                #expect(page.text.contains(String(format: "%.6g", metric.last.value)), "\(metric.name)")
            }
            #expect(page.text.contains(details.recipe.text), "the resolved recipe is on the page")
            for artifact in details.artifacts {
                #expect(page.text.contains(artifact.artifact.sha256))
            }
            // Curves and the lineage graph are inline pictures.
            let charts = try FileManager.default.contentsOfDirectory(atPath: ws.folder.file("home/runs/\(run)/curves"))
            #expect(page.svgCount == charts.count + 1)
        }
        // The pretraining report shows its latest reconstruction grid.
        let pretrain = try HTMLSummary(contentsOfFile: ws.folder.file("home/runs/1/report.html"))
        #expect(pretrain.references.contains("pictures/reconstruction-epoch-0002.png"), "\(pretrain.references)")
        // The finetune's lineage reaches the pretraining run and its checkpoint.
        let finetune = try HTMLSummary(contentsOfFile: ws.folder.file("home/runs/2/report.html"))
        #expect(finetune.text.contains("run 1") && finetune.text.contains("init.backbone"))

        // Written elsewhere, the page's relative references still reach the run's files.
        let elsewhere = try ws.mixmae(["report", "run:1", "--out", "pages/nested/one.html"])
        #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
        let moved = try HTMLSummary(contentsOfFile: ws.folder.file("pages/nested/one.html"))
        #expect(!moved.references.isEmpty)
        for reference in moved.references {
            #expect(reference.hasPrefix("../../home/runs/1/"), "\(reference)")
            #expect(moved.resolves(reference), "\(reference) does not exist")
        }

        let missing = try ws.mixmae(["report", "99"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("99"), "\(missing.stderr)")
    }

    @Test func evalRecordsARunLinkedToTheCheckpointWithTheFinetunesTop1() throws {
        let ws = try pretrainAndFinetune()
        let recorded = try ws.registry.metrics(ofRun: 2, named: "top1")
        #expect(recorded.count == 2)

        let last = try ws.mixmae(["eval", "cls.yaml", "--checkpoint", "run:2"])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(last.stdout.contains("top-1") && last.stdout.contains("top-5") && last.stdout.contains("loss"))
        let evalRun = try #require(try ws.registry.run(3))
        #expect(evalRun.task == "eval")
        #expect(evalRun.status == .finished)
        let top1 = try ws.registry.metrics(ofRun: 3, named: "top1")
        #expect(top1.map(\.value) == [recorded.last!.value], "the last checkpoint's top-1")
        #expect(try ws.registry.metrics(ofRun: 3, named: "top5").count == 1)
        #expect(try ws.registry.metrics(ofRun: 3, named: "val_loss").count == 1)

        let checkpoint = try ws.registry.checkpoint(ofRun: 2, role: .checkpointLast)
        let used = try ws.registry.recordedArtifacts(ofRun: 3).filter { $0.event.direction == .used }
        #expect(used.map(\.event.role) == [.evalCheckpoint])
        #expect(used.first?.artifact.sha256 == checkpoint.artifact.sha256)

        let down = try ws.mixmae(["lineage", "run:2", "--down"])
        #expect(down.status == 0)
        #expect(down.stdout.contains("used as eval.checkpoint by run 3  eval  FINISHED"), "\(down.stdout)")

        // The best checkpoint, by the subcommand's own name and as JSON.
        let best = try ws.mixmae(["eval", "model", "cls.yaml", "--checkpoint", "run:2:best", "--format", "json"])
        #expect(best.status == 0, "\(best.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(best.stdout.utf8)) as? [String: Any])
        #expect(json["run"] as? Int == 4)
        let metrics = try #require(json["metrics"] as? [String: Double])
        #expect(metrics["top1"] == recorded.map(\.value).max(), "the best checkpoint's top-1")

        // A pretraining checkpoint is refused before anything is recorded.
        let wrong = try ws.mixmae(["eval", "cls.yaml", "--checkpoint", "run:1"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("written by a 'pretrain' run"), "\(wrong.stderr)")
        // So is a checkpoint that does not fit the recipe's model.
        let misfit = try ws.mixmae([
            "eval", "cls.yaml", "--checkpoint", "run:2", "--set", "model.backbone.embed_dim=32",
        ])
        #expect(misfit.status != 0)
        #expect(misfit.stderr.contains("the weights do not fit the model"), "\(misfit.stderr)")
        #expect(try ws.registry.runs().count == 4)

        // The group still offers the prediction scorers.
        let help = try ws.mixmae(["eval", "--help"])
        for name in ["model (default)", "coco", "seg"] {
            #expect(help.stdout.contains(name), "\(help.stdout)")
        }
    }
}
