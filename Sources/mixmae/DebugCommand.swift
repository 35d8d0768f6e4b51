import ArgumentParser
import Foundation
import MixKit
import MixmaeRuns
import MixmaeSupport
import MixmaeTasks

/// `mixmae debug`: hidden tools for testing the host (not for users).
struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Internal test tools.",
        shouldDisplay: false,
        subcommands: [DebugRegistryLoadCommand.self, DebugSimulateRunCommand.self]
    )
}

/// `mixmae debug registry-load`: real registry writes, as fast as possible, to check that
/// concurrent processes never fail with "database is locked" and never lose a row.
struct DebugRegistryLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry-load",
        abstract: "Write runs, metrics and artifacts to the registry as fast as possible.",
        discussion: """
            Each run: begin, one heartbeat, a tag, --metrics metric rows in batches of \
            --metric-batch, --artifacts files recorded as checkpoint.epoch (the last one also as \
            checkpoint.last), and, from the second run on, the previous run's checkpoint used \
            as init.backbone; then FINISHED. Prints a JSON summary of what it wrote.
            """
    )

    @OptionGroup var home: HomeOptions

    @Option(help: "Runs to write.")
    var runs = 10

    @Option(help: "Metric rows per run.")
    var metrics = 100

    @Option(help: "Metric rows per transaction.")
    var metricBatch = 10

    @Option(help: "Artifact files per run.")
    var artifacts = 3

    @Option(help: "Bytes per artifact file.")
    var artifactBytes = 4096

    @Flag(
        help:
            "Also register a sweep (grid optim.base_lr x seed, 5 seeds when --runs is a multiple of 5) whose points are these runs, tagged as `mixmae sweep` tags them."
    )
    var sweep = false

    struct Summary: Encodable {
        var pid: Int32
        var runIDs: [RunID] = []
        var metrics = 0
        var artifacts = 0
        var producedEvents = 0
        var usedEvents = 0
        var tags = 0
        var seconds = 0.0
    }

    func run() throws {
        let start = Date()
        var options = RunRegistry.Options()
        options.heartbeatInterval = 0
        let registry = try home.open(options: options)
        var summary = Summary(pid: getpid())
        var generator = SystemRandomNumberGenerator()
        var previous: RunID?
        let sweepID = sweep ? try registry.sweep(for: Self.sweepSpec(runs: runs)).sweep.id : nil
        for index in 0..<runs {
            let recipe = RecipeSnapshot(text: "task: load-test\nworker: \(getpid())\nindex: \(index)\n")
            let run = try registry.beginRun(
                task: "load-test", recipe: recipe, seed: UInt64(index),
                plugins: [
                    PluginRecord(
                        id: "load", version: "1.0.0", libraryPath: "/nonexistent/libload.so",
                        librarySHA256: String(repeating: "0", count: 64))
                ])
            summary.runIDs.append(run.id)
            try run.heartbeat()
            try run.setTag("worker", String(getpid()))
            summary.tags += 1
            if let sweepID {
                try run.setTag(SweepTags.sweep, String(sweepID))
                try run.setTag(SweepTags.point, String(index + 1))
                try run.setTag(SweepTags.stage, "1")
                summary.tags += 3
            }
            if let previous, artifacts > 0 {
                try run.use(.run(previous, .last), role: .initBackbone)
                summary.usedEvents += 1
            }
            var batch: [MetricSample] = []
            for step in 0..<metrics {
                batch.append(MetricSample(step: Int64(step), name: step % 2 == 0 ? "loss" : "lr", value: Double(step)))
                if batch.count == metricBatch || step == metrics - 1 {
                    try run.log(batch)
                    summary.metrics += batch.count
                    batch.removeAll()
                }
            }
            for k in 0..<artifacts {
                var bytes = Array("load-test pid \(getpid()) run \(run.id) artifact \(k)\n".utf8)
                bytes += (0..<max(0, artifactBytes - bytes.count)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
                let url = run.outputDirectory.appendingPathComponent("epoch-\(k).bin")
                try AtomicFile.write(Data(bytes), to: url.path)
                try run.recordProduced(fileAt: url, role: .checkpointEpoch, step: Int64(k))
                summary.artifacts += 1
                summary.producedEvents += 1
                if k == artifacts - 1 {
                    try run.recordProduced(fileAt: url, role: .checkpointLast, step: Int64(k))
                    summary.producedEvents += 1
                }
            }
            try run.finish(.finished)
            previous = run.id
        }
        summary.seconds = Date().timeIntervalSince(start)
        print(try JSONOutput.encode(summary), terminator: "")
    }

    /// A grid of `runs` points, its own per process (the recipe names the pid).
    static func sweepSpec(runs: Int) -> SweepSpec {
        let seeds = runs % 5 == 0 ? 5 : 1
        var grid = [SweepSpec.Axis(key: "optim.base_lr", values: (1...(runs / seeds)).map { "\($0)e-4" })]
        if seeds > 1 { grid.append(SweepSpec.Axis(key: "seed", values: (0..<seeds).map(String.init))) }
        return SweepSpec(
            recipe: "load-test-\(getpid()).yaml", recipeSHA256: String(repeating: "0", count: 64), overrides: [],
            grid: grid, then: nil)
    }
}

/// `mixmae debug simulate-run`: a stand-in for a training process, for testing status,
/// signals and lineage before the training engine exists. It does everything a training
/// loop does with the registry: registers, uses initial weights, logs metrics, writes
/// checkpoints atomically and records them, and on SIGINT/SIGTERM finishes the step,
/// writes a checkpoint and marks the run KILLED.
struct DebugSimulateRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate-run",
        abstract: "Simulate a training run against the registry.",
        discussion: """
            Prints "run ID started" once the signal handlers are installed. Exits 0 when \
            finished, 1 on --fail-at, 128+signal when stopped by a signal.
            """
    )

    @OptionGroup var home: HomeOptions

    @Option(help: "The run's task.")
    var task = "pretrain"

    @Option(help: "Initial weights: run:ID, run:ID:best, sha256:PREFIX or a path.")
    var initialWeights: String?

    @Option(help: "Resume this run (a new attempt under the same id) instead of starting one.")
    var resume: String?

    @Option(help: "Steps to train; 0 trains until a signal arrives.")
    var steps = 20

    @Option(help: "Milliseconds per step.")
    var stepMilliseconds = 10

    @Option(help: "Write a checkpoint every this many steps.")
    var checkpointEvery = 10

    @Option(help: "Fail (FAILED) at this step.")
    var failAt: Int?

    @Option(help: "The seed.")
    var seed: UInt64 = 0

    @Option(help: "Seconds between background heartbeats.")
    var heartbeatSeconds = 30.0

    func run() throws {
        try ShutdownRequest.install()
        var options = RunRegistry.Options()
        options.heartbeatInterval = heartbeatSeconds
        let registry = try home.open(options: options)
        let run: ActiveRun
        var firstStep = 1
        var lineageSeed = ""
        if let resume {
            let id = try RunReference(parsing: resume).runID
            run = try registry.resumeRun(id)
            let last = try registry.checkpoint(ofRun: id, role: .checkpointLast)
            firstStep = Int(try SimulatedCheckpoint.step(in: last.url)) + 1
            lineageSeed = last.artifact.sha256
        } else {
            let recipe = RecipeSnapshot(
                text: """
                    task: \(task)
                    model:
                      backbone: simulated
                    init: \(initialWeights ?? "random")
                    optim:
                      steps: \(steps)
                    seed: \(seed)

                    """)
            run = try registry.beginRun(task: task, recipe: recipe, seed: seed, tags: ["simulated": "true"])
            if let initialWeights {
                let used = try run.use(try WeightsReference(parsing: initialWeights), role: .initBackbone)
                lineageSeed = used.artifact.sha256
            }
        }
        print("run \(run.id) started (attempt \(run.attempt))")
        fflush(stdout)

        var bestAccuracy = -Double.infinity
        var step = firstStep
        while steps == 0 || step <= steps {
            Thread.sleep(forTimeInterval: Double(stepMilliseconds) / 1000)
            let loss = exp(-Double(step) / 50) + 0.01 * Double(step % 3)
            let accuracy = 1 - loss / 2
            try run.log(step: Int64(step), ["loss": loss, "top1": accuracy, "lr": 1e-3])
            if let failAt, step == failAt {
                try run.finish(.failed("simulated failure at step \(step)"))
                throw ExitCode.failure
            }
            let stopping = ShutdownRequest.isRequested
            if stopping || step % checkpointEvery == 0 || step == steps {
                let last = try write(step: step, run: run, lineageSeed: lineageSeed, name: "last.safetensors")
                try run.recordProduced(fileAt: last, role: .checkpointLast, step: Int64(step))
                if accuracy > bestAccuracy {
                    bestAccuracy = accuracy
                    let best = try write(step: step, run: run, lineageSeed: lineageSeed, name: "best.safetensors")
                    try run.recordProduced(fileAt: best, role: .checkpointBest, step: Int64(step))
                }
            }
            if stopping {
                let signal = ShutdownRequest.signal ?? SIGINT
                try run.finish(.killed(signal: signal))
                print("run \(run.id) stopped by \(signalName(signal)) at step \(step); checkpoint written")
                throw ExitCode(128 + signal)
            }
            step += 1
        }
        try run.finish(.finished)
        print("run \(run.id) finished")
    }

    private func write(step: Int, run: ActiveRun, lineageSeed: String, name: String) throws -> URL {
        let url = run.outputDirectory.appendingPathComponent(name)
        try AtomicFile.write(
            SimulatedCheckpoint.bytes(run: run.id, step: step, lineageSeed: lineageSeed), to: url.path)
        return url
    }
}

/// The file format of simulated checkpoints: a text header naming run and step, then
/// bytes derived from the run's initial weights, so each file's content is unique.
enum SimulatedCheckpoint {
    static func bytes(run: RunID, step: Int, lineageSeed: String) -> Data {
        var data = Data("mixmae simulated checkpoint\nrun: \(run)\nstep: \(step)\n".utf8)
        var block = Array("\(lineageSeed)/\(run)/\(step)".utf8)
        for _ in 0..<32 {
            var hasher = SHA256()
            hasher.update(block)
            block = hasher.finalizeBytes()
            data.append(contentsOf: block)
        }
        return data
    }

    static func step(in url: URL) throws -> Int64 {
        let text = String(decoding: try Data(contentsOf: url).prefix(200), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("step: ") }),
            let step = Int64(line.dropFirst(6))
        else {
            throw ValidationError("\(url.path) is not a simulated checkpoint (no 'step:' line)")
        }
        return step
    }
}
