import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks

/// `mixmae bench train --config NAME.json [--steps K] [--warmup W] [--format table|json]`
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time full MixMAE training steps (forward, backward, AdamW) on random images.",
        discussion: """
            The configuration uses the reference implementation's names (as the parity fixtures' \
            config.json and ../shared/bench/*.json do), plus `batch` and `mask_ratio`. Prints the \
            median images/s over --steps timed steps after --warmup untimed ones. With \
            MIXMAE_PROFILE=1 a per-op profile goes to standard error. Under mpirun (or srun) \
            the batch is the whole job's: each of the N ranks steps on batch/N images, the \
            gradients are averaged with MPI_Allreduce, and rank 0 prints the job's images/s \
            and the share of the step time spent in allreduce.
            """
    )

    @Option(help: "Model and batch configuration (JSON, reference names).") var config: String
    @Option(help: "Timed steps.") var steps = 5
    @Option(help: "Untimed steps first.") var warmup = 2
    @Option(help: "Batch size (default: the config's `batch`, else 16).") var batch: Int?
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard steps >= 1 else {
            throw ValidationError("--steps must be at least 1 (the median needs a timed step), got \(steps)")
        }
        guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more, got \(warmup)") }
        if let batch, batch <= 0 || batch % 2 != 0 {
            throw ValidationError(
                "--batch must be even and positive (MixMAE mixes image i with image B-1-i), got \(batch)")
        }
    }

    /// The configuration's `batch` and `mask_ratio` (run settings, not model hyper-parameters).
    static let runSettings: [ParameterSpec] = [
        .int("batch", default: 16, range: 2...1_048_576, doc: "Images per step (even)."),
        .float("mask_ratio", default: 0.5, range: 0...1, doc: "Fraction of final-stage tokens mixed."),
    ]

    func run() throws {
        let catalog = try plugins.catalog()
        let reference = try ReferenceConfig(path: config, provider: catalog)
        let root = try YAMLParser.parse(file: config)
        let settings = try ParameterValidator.validate(
            root, against: Self.runSettings, at: RecipePath(),
            ignoring: Set((root.mapping?.entries ?? []).map(\.key)).subtracting(Self.runSettings.map(\.name)),
            label: "the configuration"
        ).get()
        let batchSize = batch ?? settings.int("batch")
        if batchSize % 2 != 0, let node = root["batch"] {
            throw RecipeValidationError(issues: [
                RecipeIssue(
                    .outOfRange, at: node.mark, path: RecipePath([.key("batch")]),
                    message: "\(batchSize) is odd: MixMAE mixes image i with image B-1-i; use an even batch or --batch")
            ])
        }
        let maskRatio = settings.float("mask_ratio")
        let comm = try CommunicatorSelection.choose(mode: "auto", catalog: catalog)
        guard batchSize % (2 * comm.size) == 0 else {
            throw ValidationError(
                "--batch \(batchSize) is the whole job's batch: it must divide into \(comm.size) ranks' even shares")
        }
        let share = batchSize / comm.size
        let model = try reference.buildPretrainModel(
            with: ComponentBuilder(provider: catalog, rng: RandomSource(seed: 0)))
        let caps = model.backbone.capabilities
        let side = caps.imageSize / (caps.outputs.last?.stride ?? 32)
        var sampler = MaskSampler(height: side, width: side, ratio: maskRatio, extraRatio: 0, seed: 1)
        var rng = RandomGenerator(seed: 2)
        let images = Tensor.randomNormal([share, caps.inputChannels, caps.imageSize, caps.imageSize], using: &rng)
        let optimizer = AdamW(
            groups: ParameterGroup.decayAndNoDecay(model.namedParameters(), weightDecay: 0.05), learningRate: 1.5e-4,
            betas: (0.9, 0.95))
        let averager = GradientAverager(
            parameters: optimizer.groups.flatMap { $0.parameters.map(\.1) }, communicator: comm)
        let quiet = output.json || comm.rank != 0
        var times: [Double] = []
        var allreduceBefore = 0.0
        for step in 0..<(warmup + steps) {
            if step == warmup && ProcessInfo.processInfo.environment["MIXMAE_PROFILE"] == "1" { Profiler.start() }
            if step == warmup { allreduceBefore = averager.seconds }
            let start = Date()
            let loss = model(images, mixing: sampler.next()).loss
            optimizer.zeroGrad()
            loss.backward()
            try averager.average()
            optimizer.step()
            let seconds = Date().timeIntervalSince(start)
            if step >= warmup { times.append(seconds) }
            if !quiet {
                FileHandle.standardError.write(
                    Data(
                        "step \(step + 1)/\(warmup + steps)\(step < warmup ? " (warm-up)" : ""): \(String(format: "%.1f", seconds * 1000)) ms, loss \(String(format: "%.4f", loss.item()))\n"
                            .utf8))
            }
        }
        if ProcessInfo.processInfo.environment["MIXMAE_PROFILE"] == "1" {
            FileHandle.standardError.write(Data((Profiler.report() + "\n").utf8))
        }
        let median = times.sorted()[times.count / 2]
        let allreduceShare = (averager.seconds - allreduceBefore) / max(times.reduce(0, +), 1e-9)
        guard comm.rank == 0 else { return }
        let job =
            comm.size > 1 ? ", \(comm.size) ranks, \(String(format: "%.1f", allreduceShare * 100))% in allreduce" : ""
        let parameters = model.namedParameters().reduce(0) { $0 + $1.1.count }
        let name = (config as NSString).lastPathComponent
        if output.json {
            let object: [String: Any] = [
                "config": name, "batch": batchSize, "steps": steps, "median_step_seconds": median,
                "images_per_second": Double(batchSize) / median, "parameters": parameters,
                "threads": Parallel.threadCount, "ranks": comm.size, "allreduce_share": allreduceShare,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(
                "\(name): batch \(batchSize), \(parameters) parameters, median step \(String(format: "%.1f", median * 1000)) ms over \(steps) steps: \(String(format: "%.1f", Double(batchSize) / median)) images/s (\(Parallel.threadCount) threads\(job))"
            )
        }
    }
}
