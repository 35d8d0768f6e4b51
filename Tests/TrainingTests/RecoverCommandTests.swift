import Foundation
import MixmaeRuns
import TestSupport
import Testing

/// `mixmae runs recover` after the registry database is lost: a real training run's
/// metrics come back from its folder, equal to what the old database held.
@Suite struct RecoverCommandTests {
    @Test func recoverBringsBackTheMetricsOfATrainedRun() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 2, batch: 8)
        let trained = try ws.mixmae(["train", "pretrain.yaml", "--set", "log.pictures=0", "--set", "log.val_images=0"])
        #expect(trained.status == 0, "\(trained.stderr)")
        let before = try ws.registry.metrics(ofRun: 1)
        let summaries = try ws.registry.metricSummaries(ofRun: 1)
        #expect(Set(before.map(\.name)).isSuperset(of: ["loss", "lr", "compute_tflops"]), "\(before.map(\.name))")
        #expect(before.filter { $0.name == "loss" }.count >= 4, "\(before)")
        let log = ws.folder.file("home/runs/1/\(RunMetricsLog.fileName)")
        #expect(FileManager.default.fileExists(atPath: log))

        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: ws.folder.file("home/registry.sqlite" + suffix))
        }
        let recovered = try ws.mixmae(["runs", "recover"])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains("recovered 1 run (1)"), "\(recovered.stdout)")
        #expect(recovered.stdout.contains("\(before.count) metric values"), "\(recovered.stdout)")

        let after = try ws.registry.metrics(ofRun: 1)
        #expect(after == before)
        #expect(try ws.registry.metricSummaries(ofRun: 1) == summaries)
        let listed = try ws.mixmae(["runs", "list", "--metrics", "loss"])
        let lastLoss = try #require(before.last { $0.name == "loss" }).value
        #expect(listed.stdout.contains(String(format: "%.4f", lastLoss)), "\(listed.stdout)")
    }

    /// A line cut short by a crash at the end of the file is skipped; a damaged line in the
    /// middle is an error that names the file and line.
    @Test func aTornLastLineIsSkippedAndADamagedLineIsNamed() throws {
        let folder = try TemporaryFolder("metrics-log")
        let log = RunMetricsLog(folder: folder.url)
        let samples = [
            MetricSample(step: 1, name: "loss", value: 0.5, time: Date(timeIntervalSince1970: 1_700_000_000.125)),
            MetricSample(step: 2, name: "loss", value: .nan, time: Date(timeIntervalSince1970: 1_700_000_001.5)),
        ]
        try log.append(samples)
        #expect(try log.read() == samples)
        let handle = try FileHandle(forWritingTo: log.url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"name\":\"lo".utf8))
        try handle.close()
        #expect(try log.read() == samples)
        try log.append([MetricSample(step: 3, name: "loss", value: 0.25)])
        let error = thrownError { _ = try log.read() }
        #expect("\(String(describing: error))".contains("\(log.url.path):3"), "\(String(describing: error))")
    }
}
