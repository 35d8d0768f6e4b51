import Foundation
import MixKit
import MixmaeData
import MixmaeRuns
import MixmaeSupport
import MixmaeTasks
import TestSupport
import Testing

/// A linear regression small enough to train in milliseconds through the real TrainingLoop.
private final class TinyTask: TrainingTask {
    /// The model's generator.
    let rng = RandomSource(seed: 0)
    let linear: Linear

    init() { linear = Linear(2, 1, rng: rng) }

    var model: Module { linear }
    var generatorState: [UInt64]?

    func parameterGroups() -> [ParameterGroup] {
        [ParameterGroup(name: "all", parameters: linear.namedParameters(), weightDecay: 0)]
    }

    func loss(for batch: Batch) throws -> (loss: Tensor, logs: [String: Double]) {
        (mseLoss(linear(batch.images), batch.targets as! Tensor), [:])
    }
}

private final class TinyData: BatchSource {
    let batchesPerEpoch = 3

    final class Iterator: BatchIterator {
        var remaining: Int
        init(_ remaining: Int) { self.remaining = remaining }
        func next() throws -> Batch? {
            guard remaining > 0 else { return nil }
            remaining -= 1
            let x: [[Float]] = [[1, 2], [2, 1], [0, 1], [1, 0]]
            let y: [[Float]] = x.map { [$0[0] * 2 - $0[1]] }
            return Batch(images: Tensor(x), targets: Tensor(y))
        }
    }

    func batches(epoch: Int, skip: Int) -> BatchIterator { Iterator(batchesPerEpoch - skip) }
}

@Suite struct TrainingObserverTests {
    /// No background heartbeat: the observer's own heartbeats are what the tests see.
    static var quietOptions: RunRegistry.Options {
        var options = RunRegistry.Options()
        options.heartbeatInterval = 0
        return options
    }

    func loop(for run: ActiveRun) -> TrainingLoop {
        let settings = OptimizationSettings(
            epochs: 2, warmupEpochs: 0, batchSize: 4, baseLR: 25.6, weightDecay: 0, checkpointEvery: 1, logEvery: 1)
        let task = TinyTask()
        return TrainingLoop(
            task: task, data: TinyData(), settings: settings, checkpointDirectory: run.outputDirectory.path,
            modelRandom: task.rng)
    }

    @Test func aTrainingLoopRecordsMetricsAndCheckpoints() throws {
        let directory = try TemporaryFolder("observer")
        let registry = try RunRegistry(home: directory.url, options: TrainingObserverTests.quietOptions)
        let run = try registry.beginRun(task: "regression", recipe: RecipeSnapshot(text: "tiny\n"), seed: 0)
        let observer = RegistryTrainingObserver(run: run)
        let training = loop(for: run)
        training.observer = observer
        let summary = try training.run()
        try run.finish(.finished)

        #expect(observer.failures.isEmpty)
        let loss = try registry.metrics(ofRun: run.id, named: "loss")
        #expect(loss.map(\.step) == Array(1...6))
        let produced = try registry.recordedArtifacts(ofRun: run.id).filter { $0.event.direction == .produced }
        #expect(Set(produced.map(\.event.role)) == [.checkpointLast, .checkpointEpoch])
        #expect(produced.filter { $0.event.role == .checkpointLast }.map(\.event.step) == [3, 6])
        // run:ID resolves to the file the loop wrote last, verified by hash, and it loads.
        let last = try registry.resolveWeights(.run(run.id, .last))
        #expect(last.url.path == summary.lastCheckpoint)
        #expect(last.artifact.sha256 == (try FileDigest.of(last.url)).sha256)
        #expect(try Checkpoint.loadWeights(last.url.path).0.keys.sorted() == ["bias", "weight"])
    }

    @Test func aStopRequestEndsTheRunKilledWithAWholeCheckpoint() throws {
        let directory = try TemporaryFolder("observer")
        let registry = try RunRegistry(home: directory.url, options: TrainingObserverTests.quietOptions)
        let run = try registry.beginRun(task: "regression", recipe: RecipeSnapshot(text: "tiny\n"), seed: 0)
        let observer = RegistryTrainingObserver(run: run)
        let training = loop(for: run)
        training.observer = observer
        training.shouldStop = { step in step == 2 }
        do {
            _ = try training.run()
            Issue.record("the loop should have stopped")
        } catch TrainingStop.interrupted(let checkpoint) {
            try run.finish(.killed(signal: SIGINT))
            let last = try registry.checkpoint(ofRun: run.id, role: .checkpointLast)
            #expect(last.url.path == checkpoint)
        }
        let record = try #require(try registry.run(run.id))
        #expect(record.status == .killed)
        #expect(try registry.metrics(ofRun: run.id, named: "loss").count == 2)
        #expect(observer.failures.isEmpty)
    }

    @Test func registryFailuresAreKeptNotThrown() throws {
        let directory = try TemporaryFolder("observer")
        let registry = try RunRegistry(home: directory.url, options: TrainingObserverTests.quietOptions)
        let run = try registry.beginRun(task: "regression", recipe: RecipeSnapshot(text: "tiny\n"), seed: 0)
        let observer = RegistryTrainingObserver(run: run)
        observer.checkpointWritten(
            path: directory.file("never-written.safetensors"), role: "checkpoint.last", epoch: 1, step: 1)
        #expect(observer.failures.count == 1)
        #expect(observer.failures[0].contains("never-written.safetensors"))
    }
}
