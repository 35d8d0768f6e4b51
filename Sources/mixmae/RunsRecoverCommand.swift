import ArgumentParser
import Foundation
import MixmaeRuns
import MixmaeSupport

/// `mixmae runs recover`.
struct RunsRecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Rebuild a lost or damaged registry from the run folders.",
        discussion: """
            Moves registry.sqlite (and its -wal and -shm files) aside as \
            registry.sqlite.damaged-TIME, never writing into it, then rebuilds a new registry \
            from runs/<id>/: each run's record (run.json) or recipe.yaml, its committed \
            checkpoints, its metrics (metrics.jsonl; runs of a mixmae older than that file have \
            none), and the lineage from its initial weights, matched by content. Recovered runs \
            are CRASHED and continue with `mixmae train --resume run:ID`.
            """
    )

    @OptionGroup var home: HomeOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let report = try RegistryRecovery(home: home.url).run()
        if output.json {
            try output.print(report)
            return
        }
        for (old, new) in report.movedAside.sorted(by: { $0.key < $1.key }) {
            print("moved \(displayPath(old)) aside to \(displayPath(new))")
        }
        let ids = report.recoveredRuns.map(String.init).joined(separator: ", ")
        print(
            "recovered \(report.recoveredRuns.count) run\(report.recoveredRuns.count == 1 ? "" : "s")"
                + (ids.isEmpty ? "" : " (\(ids))")
                + ", \(report.checkpoints) checkpoint file\(report.checkpoints == 1 ? "" : "s"), "
                + "\(report.metrics) metric value\(report.metrics == 1 ? "" : "s"), "
                + "\(report.lineageLinks) lineage link\(report.lineageLinks == 1 ? "" : "s")")
        for problem in report.problems { print("warning: \(problem)") }
    }
}
