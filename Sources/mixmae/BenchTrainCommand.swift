import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeRecipes
import MixmaeSupport
import MixmaeTasks

/// What `bench train` times: the same three steps `torch_bench.py` times.
enum BenchStepMode: String, ExpressibleByArgument, CaseIterable {
    /// MixMAE forward with mixing, backward, AdamW (betas 0.9, 0.95).
    case pretrain
    /// Encoder + 1000-class head, cross entropy, backward, AdamW.
    case finetune
    /// Encoder + 1000-class head, forward only, evaluation mode, no gradients.
    case infer
}

/// `mixmae bench train --config NAME.json [--mode pretrain|finetune|infer] [--steps K] [--warmup W] [--format table|json]`
///
/// ```
/// mixmae bench train --config ../shared/bench/tiny224.json
/// mixmae bench train --config ../shared/bench/small128.json --mode infer --format json
/// ```
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Time full training steps (forward, backward, AdamW) or inference on random images.",
        discussion: """
            The configuration uses the reference implementation's names (as the parity fixtures' \
            config.json and ../shared/bench/*.json do), plus `batch` and `mask_ratio`. --mode \
            pretrain times a MixMAE step, finetune a classification step (1000 classes, cross \
            entropy, AdamW) and infer the classifier's forward pass without gradients, as \
            ../shared/bench/torch_bench.py does. Prints the median images/s over --steps timed \
            steps after --warmup untimed ones, the GEMMs' work of a step (GFLOP, counted as the \
            profile counts it) and their rate over the median step, and the process's peak resident \
            memory. With \
            MIXMAE_PROFILE=1 a per-op profile goes to standard error. Under mpirun (or srun) \
            the batch is the whole job's: each of the N ranks steps on batch/N images, the \
            gradients are averaged with MPI_Allreduce, and rank 0 prints the job's images/s \
            and the share of the step time spent in allreduce.
            """
    )

    @Option(help: "Model and batch configuration (JSON, reference names).") var config: String
    @Option(help: "pretrain, finetune or infer.") var mode: BenchStepMode = .pretrain
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
        let builder = ComponentBuilder(provider: catalog, rng: RandomSource(seed: 0))
        let (runStep, parameters): (() throws -> Float?, Int)
        var averager: GradientAverager?
        switch mode {
        case .pretrain:
            let model = try reference.buildPretrainModel(with: builder)
            let optimizer = AdamW(
                groups: ParameterGroup.decayAndNoDecay(model.namedParameters(), weightDecay: 0.05),
                learningRate: 1.5e-4, betas: (0.9, 0.95))
            averager = Self.averager(optimizer, comm)
            runStep = Self.pretrainStep(
                model, optimizer: optimizer, averager: averager, batchSize: share, maskRatio: maskRatio)
            parameters = model.namedParameters().reduce(0) { $0 + $1.1.count }
        case .finetune:
            let model = try reference.buildClassifier(with: builder, numClasses: Self.benchmarkClasses)
            let optimizer = AdamW(
                groups: ParameterGroup.decayAndNoDecay(model.namedParameters(), weightDecay: 0.05), learningRate: 1e-4)
            averager = Self.averager(optimizer, comm)
            runStep = Self.finetuneStep(model, optimizer: optimizer, averager: averager, batchSize: share)
            parameters = model.namedParameters().reduce(0) { $0 + $1.1.count }
        case .infer:
            let model = try reference.buildClassifier(with: builder, numClasses: Self.benchmarkClasses)
            runStep = Self.inferenceStep(model, batchSize: share)
            parameters = model.namedParameters().reduce(0) { $0 + $1.1.count }
        }
        let quiet = output.json || comm.rank != 0
        var times: [Double] = []
        var timedFLOPs = 0.0
        var allreduceBefore = 0.0
        for step in 0..<(warmup + steps) {
            if step == warmup && ProcessInfo.processInfo.environment["MIXMAE_PROFILE"] == "1" { Profiler.start() }
            if step == warmup { allreduceBefore = averager?.seconds ?? 0 }
            // Every rank starts a step together, so the slowest rank's time is the job's.
            try comm.barrier()
            let start = Date()
            var loss: Float?
            // The GEMMs' multiply-adds of this rank's step, as the profile counts them (a sum per call, no timing).
            let work = try Profiler.gemmWork { loss = try runStep() }
            try comm.barrier()
            let seconds = Date().timeIntervalSince(start)
            if step >= warmup {
                times.append(seconds)
                timedFLOPs += work.total
            }
            if !quiet {
                FileHandle.standardError.write(
                    Data(
                        "step \(step + 1)/\(warmup + steps)\(step < warmup ? " (warm-up)" : ""): \(String(format: "%.1f", seconds * 1000)) ms\(loss.map { ", loss " + String(format: "%.4f", $0) } ?? "")\n"
                            .utf8))
            }
        }
        // MIXMAE_PROFILE=1's session prints its report at exit: it covers the timed steps only.
        Profiler.stop()
        let median = times.sorted()[times.count / 2]
        let allreduceShare = ((averager?.seconds ?? 0) - allreduceBefore) / max(times.reduce(0, +), 1e-9)
        guard comm.rank == 0 else { return }
        let job =
            comm.size > 1 ? ", \(comm.size) ranks, \(String(format: "%.1f", allreduceShare * 100))% in allreduce" : ""
        let name = (config as NSString).lastPathComponent
        let peak = PeakMemory.residentMiB()
        // Every rank runs the same products on its share of the batch.
        let gemmGFLOP = timedFLOPs / Double(steps) * Double(comm.size) * 1e-9
        let gemmRate = gemmGFLOP / median
        if output.json {
            let object: [String: Any] = [
                "config": name, "mode": mode.rawValue, "batch": batchSize, "steps": steps,
                "median_step_seconds": median, "images_per_second": Double(batchSize) / median,
                "parameters": parameters, "threads": Parallel.threadCount, "peak_rss_mib": peak,
                "kernel_path": CPUFeatures.kernelPath.rawValue, "ranks": comm.size, "allreduce_share": allreduceShare,
                "blas_kernels": CPUFeatures.blasKernels, "gemm_kernels": GEMMKernels.active.rawValue,
                "pool_spin_us": Parallel.spinMicroseconds, "pool_back_offs": Parallel.backOffs,
                "gemm_gflop_per_step": gemmGFLOP, "gemm_gflops": gemmRate,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(
                "\(name) \(mode.rawValue): batch \(batchSize), \(parameters) parameters, median step "
                    + "\(String(format: "%.1f", median * 1000)) ms over \(steps) steps: "
                    + "\(String(format: "%.1f", Double(batchSize) / median)) images/s, GEMMs "
                    + "\(String(format: "%.2f", gemmGFLOP)) GFLOP a step (\(String(format: "%.1f", gemmRate)) "
                    + "GFLOP/s), peak RSS "
                    + "\(String(format: "%.1f", peak)) MiB\(comm.size > 1 ? " on rank 0" : "") (\(Parallel.threadCount) threads\(job))"
                    + "; C kernels \(CPUFeatures.kernelPath), \(CPUFeatures.blasSummary), GEMM \(GEMMKernels.summary)"
                    + (Parallel.backOffs > 0
                        ? "; the compute threads stopped spinning \(Parallel.backOffs) times (other threads wanted the cores)"
                        : "")
            )
        }
    }

    /// The gradient averager of a job over several ranks; nil in one process (no buffer to allocate).
    static func averager(_ optimizer: AdamW, _ comm: Communicator) -> GradientAverager? {
        comm.size > 1
            ? GradientAverager(parameters: optimizer.groups.flatMap { $0.parameters.map(\.1) }, communicator: comm)
            : nil
    }

    /// The classes of the finetune and inference heads (ImageNet's, as `torch_bench.py`).
    static let benchmarkClasses = 1000

    /// One MixMAE step on a fixed random batch of this rank's share, gradients averaged over
    /// the ranks; returns the loss.
    static func pretrainStep(
        _ model: PretrainModel, optimizer: AdamW, averager: GradientAverager?, batchSize: Int, maskRatio: Double
    ) -> () throws -> Float? {
        let caps = model.backbone.capabilities
        let side = caps.imageSize / (caps.outputs.last?.stride ?? 32)
        var sampler = MaskSampler(height: side, width: side, ratio: maskRatio, extraRatio: 0, seed: 1)
        var rng = RandomGenerator(seed: 2)
        let images = Tensor.randomNormal([batchSize, caps.inputChannels, caps.imageSize, caps.imageSize], using: &rng)
        return {
            let loss = model(images, mixing: sampler.next()).loss
            optimizer.zeroGrad()
            loss.backward()
            try averager?.average()
            optimizer.step()
            return loss.item()
        }
    }

    /// One classification step (cross entropy over 1000 classes, AdamW) on this rank's share,
    /// gradients averaged over the ranks; returns the loss.
    static func finetuneStep(
        _ model: ClassifierModel, optimizer: AdamW, averager: GradientAverager?, batchSize: Int
    ) -> () throws -> Float? {
        let caps = model.backbone.capabilities
        var rng = RandomGenerator(seed: 2)
        let images = Tensor.randomNormal([batchSize, caps.inputChannels, caps.imageSize, caps.imageSize], using: &rng)
        let labels = (0..<batchSize).map { _ in rng.nextInt(below: benchmarkClasses) }
        return {
            let loss = crossEntropy(model(images).logits, labels: labels)
            optimizer.zeroGrad()
            loss.backward()
            try averager?.average()
            optimizer.step()
            return loss.item()
        }
    }

    /// The classifier's forward pass in evaluation mode, without a graph (this rank's share).
    static func inferenceStep(_ model: ClassifierModel, batchSize: Int) -> () throws -> Float? {
        let caps = model.backbone.capabilities
        var rng = RandomGenerator(seed: 2)
        let images = Tensor.randomNormal([batchSize, caps.inputChannels, caps.imageSize, caps.imageSize], using: &rng)
        model.train(false)
        return {
            _ = withNoGrad { model(images).logits }
            Profiler.stepFinished()
            return nil
        }
    }
}
