import Foundation
import MixKit
import MixmaeData
import MixmaeSupport

/// What a task plugs into the ``TrainingLoop``.
public protocol TrainingTask: AnyObject {
    /// The model whose state dict is checkpointed.
    var model: Module { get }
    /// The optimizer's groups (weight decay only on 2+-D tensors, layer-wise scales, ...).
    func parameterGroups() -> [ParameterGroup]
    /// The loss of one batch (recording the graph) and values to log with it.
    func loss(for batch: Batch) throws -> (loss: Tensor, logs: [String: Double])
    /// Validation after an epoch; nil when the task has none.
    func evaluate(epoch: Int) throws -> [String: Double]?
    /// Whether ``evaluate(epoch:over:)`` spreads the validation over a run's processes
    /// (every process evaluates its share and the sums are added); false: rank 0 alone
    /// evaluates everything with ``evaluate(epoch:)``.
    var shardsEvaluation: Bool { get }
    /// Validation after an epoch, this process's share of it, the numbers summed over
    /// `processes`: every process gets the numbers of one process evaluating everything.
    func evaluate(epoch: Int, over processes: EvaluationProcesses) throws -> [String: Double]?
    /// The metric that picks the best checkpoint, and whether higher is better.
    var selectionMetric: TaskMetric? { get }
    /// State of the task's own generator, saved in checkpoints.
    var generatorState: [UInt64]? { get set }
    /// Tells the task the folder of its run, once the run is registered (for
    /// pictures and prediction files).
    func attach(runDirectory: String)
}

extension TrainingTask {
    public func attach(runDirectory: String) {}
    public func evaluate(epoch: Int) throws -> [String: Double]? { nil }
    public var shardsEvaluation: Bool { false }
    public func evaluate(epoch: Int, over processes: EvaluationProcesses) throws -> [String: Double]? {
        try evaluate(epoch: epoch)
    }
    public var selectionMetric: TaskMetric? { nil }
}

/// Receives what a run produces (the run registry implements it).
public protocol TrainingObserver: AnyObject {
    /// Metric values at an optimizer step.
    func record(metrics: [String: Double], step: Int)
    /// A checkpoint file was written with a role (`checkpoint.last`, `checkpoint.best`, `checkpoint.epoch`).
    func checkpointWritten(path: String, role: String, epoch: Int, step: Int)
    /// Called about every few seconds while the run is alive.
    func heartbeat()
}

/// Hyper-parameters of the optimisation, shared by every task.
public struct OptimizationSettings: Sendable, Equatable {
    public var epochs: Int
    public var warmupEpochs: Double
    public var batchSize: Int
    /// lr = baseLR * batchSize / 256, the reference's linear scaling rule.
    public var baseLR: Double
    public var minLR: Double
    public var weightDecay: Double
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    /// Global-norm gradient clipping; 0 = off.
    public var clipGrad: Double
    /// Schedule after warmup: "cosine", "poly" or "step".
    public var schedule: String
    /// Epochs between periodic checkpoints (0 = only the last).
    public var checkpointEvery: Int
    /// Steps between metric records.
    public var logEvery: Int
    /// Micro-batches per process whose gradients add up to one step (`optim.accum_steps`).
    public var accumulationSteps: Int

    public init(
        epochs: Int, warmupEpochs: Double, batchSize: Int, baseLR: Double, minLR: Double = 0, weightDecay: Double,
        beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, clipGrad: Double = 0,
        schedule: String = "cosine", checkpointEvery: Int = 1, logEvery: Int = 10, accumulationSteps: Int = 1
    ) {
        self.accumulationSteps = accumulationSteps
        self.epochs = epochs
        self.warmupEpochs = warmupEpochs
        self.batchSize = batchSize
        self.baseLR = baseLR
        self.minLR = minLR
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.clipGrad = clipGrad
        self.schedule = schedule
        self.checkpointEvery = checkpointEvery
        self.logEvery = logEvery
    }

    /// The peak learning rate after linear scaling.
    public var peakLR: Double { baseLR * Double(batchSize) / 256 }

    public func makeSchedule() -> LearningRateSchedule {
        switch schedule {
        case "poly":
            return PolySchedule(
                baseLR: peakLR, minLR: minLR, power: 1, warmupEpochs: warmupEpochs, epochs: Double(epochs))
        case "step":
            return StepSchedule(
                baseLR: peakLR, milestones: [Double(epochs) * 2 / 3, Double(epochs) * 8 / 9], warmupEpochs: warmupEpochs
            )
        default:
            return WarmupCosineSchedule(
                baseLR: peakLR, minLR: minLR, warmupEpochs: warmupEpochs, epochs: Double(epochs))
        }
    }
}

/// Why a run stopped early.
public enum TrainingStop: UserFacingError {
    /// Asked to stop (SIGINT, SIGTERM): the step finished and a checkpoint was written.
    case interrupted(checkpoint: String)
    /// The loss became NaN or infinite.
    case diverged(step: Int, loss: Float)

    public var what: String {
        switch self {
        case .interrupted(let path):
            return "interrupted: the current step finished and the run was saved to \(path)"
        case .diverged(let step, let loss):
            return "the loss became \(loss) at step \(step)"
        }
    }

    public var hint: String? {
        switch self {
        case .interrupted: return "continue with --resume"
        case .diverged:
            return
                "lower the learning rate, enable gradient clipping (optim.clip_grad), or check the data; the last good checkpoint is kept"
        }
    }

    /// 130 for an interruption (as SIGINT), 1 for a divergence.
    public var exitCode: Int32 {
        if case .interrupted = self { return ExitStatus.interrupted(by: SIGINT) }
        return ExitStatus.failure
    }
}

/// The data source handed fewer micro-batches than a step needs.
struct DataEndedEarly: UserFacingError {
    var step: Int
    var microBatch: Int
    var of: Int
    var what: String { "the training data ended inside step \(step) (micro-batch \(microBatch) of \(of))" }
}

/// The optimisation loop every task shares: AdamW with a per-iteration
/// schedule, optional clipping, progress, metrics, periodic and best
/// checkpoints, exact resume, and a clean stop on SIGINT/SIGTERM.
public final class TrainingLoop {
    public let task: TrainingTask
    public let data: BatchSource
    public let settings: OptimizationSettings
    /// Folder of the run's checkpoints.
    public let checkpointDirectory: String
    public weak var observer: TrainingObserver?
    /// Polled after every step with the number of steps taken; true stops the
    /// loop after writing the last checkpoint.
    public var shouldStop: (Int) -> Bool = { _ in false }
    /// Extra metadata written into every checkpoint (task, recipe hash, ...).
    public var checkpointMetadata: [String: String] = [:]
    /// The run whose folder holds the checkpoints, written into each checkpoint's manifest.
    public var checkpointRun: Int64 = 0
    /// A label for the progress line.
    public var label = "train"
    /// The generator the model draws from in forward (dropout, drop path): its
    /// state is saved with every checkpoint and restored on resume.
    public let modelRandom: RandomSource
    /// The processes of the run: rank 0 broadcasts the initial weights, gradients
    /// are averaged over all ranks, and only rank 0 writes checkpoints, metrics and
    /// progress. One process by default.
    public var communicator: Communicator = SingleProcessCommunicator()
    /// Seconds spent averaging gradients between processes.
    public var allreduceSeconds: Double { averager?.seconds ?? 0 }
    private var averager: GradientAverager?
    private var isRoot: Bool { communicator.rank == 0 }

    public private(set) var optimizer: AdamW
    private let schedule: LearningRateSchedule

    public init(
        task: TrainingTask, data: BatchSource, settings: OptimizationSettings, checkpointDirectory: String,
        modelRandom: RandomSource
    ) {
        self.task = task
        self.modelRandom = modelRandom
        self.data = data
        self.settings = settings
        self.checkpointDirectory = checkpointDirectory
        self.optimizer = AdamW(
            groups: task.parameterGroups(), learningRate: 0, betas: (Float(settings.beta1), Float(settings.beta2)),
            eps: Float(settings.eps))
        self.schedule = settings.makeSchedule()
    }

    /// What a finished run leaves behind.
    public struct Summary {
        public var lastCheckpoint: String
        public var bestCheckpoint: String?
        public var finalMetrics: [String: Double]
        public var steps: Int
        public var seconds: Double
    }

    /// The path of the last checkpoint of this run.
    public var lastCheckpointPath: String { checkpointDirectory + "/last.safetensors" }

    /// Runs to the end, or from `resume` (a checkpoint written by a run of the same recipe).
    public func run(resume: String? = nil) throws -> Summary {
        try FileManager.default.createDirectory(atPath: checkpointDirectory, withIntermediateDirectories: true)
        var state = TrainerState(epoch: 0, step: 0, stepInEpoch: 0, modelGenerator: modelRandom.state)
        if let resume {
            let (weights, _) = try Checkpoint.loadWeights(resume)
            try task.model.load(stateDict: weights, strict: true)
            state = try Checkpoint.loadTrainingState(resume, into: optimizer)
            guard modelRandom.restore(state.modelGenerator) else {
                throw InputError(
                    file: Checkpoint.optimizerPath(for: resume),
                    problem:
                        "its trainer state holds no readable model generator state; the run cannot continue exactly")
            }
            task.generatorState = state.taskGenerator
        }
        let parameters = optimizer.groups.flatMap { $0.parameters.map(\.1) }
        let averager = GradientAverager(parameters: parameters, communicator: communicator)
        self.averager = averager
        try GradientAverager.broadcast(
            task.model.stateDict().sorted { $0.key < $1.key }.map(\.value), communicator: communicator)
        let perEpoch = data.batchesPerEpoch
        precondition(perEpoch > 0, "TrainingLoop: the data source has no full batch")
        let totalSteps = perEpoch * settings.epochs
        let progress = ProgressReporter(
            total: totalSteps, label: label, output: isRoot ? .standardError : .nullDevice)
        let started = Date()
        var lastHeartbeat = Date()
        var window: [String: (sum: Double, count: Int)] = [:]
        var imagesSeen = 0
        var windowStart = Date()
        var latestMetrics: [String: Double] = [:]
        var bestPath: String? =
            FileManager.default.fileExists(atPath: checkpointDirectory + "/best.safetensors")
            ? checkpointDirectory + "/best.safetensors" : nil
        task.model.train(true)

        while state.epoch < settings.epochs {
            let epoch = state.epoch
            let batches = data.batches(epoch: epoch, skip: state.stepInEpoch)
            while state.stepInEpoch < perEpoch {
                let epochProgress = Double(epoch) + Double(state.stepInEpoch) / Double(perEpoch)
                let lr = schedule.learningRate(atEpoch: epochProgress)
                optimizer.learningRate = Float(lr)
                let local = accumulate(from: batches, step: state.step)
                let (value, logs, agreedStop) = try agree(on: local, step: state.step)
                guard value.isFinite else { throw TrainingStop.diverged(step: state.step, loss: value) }
                try averager.average()
                if settings.clipGrad > 0 {
                    let norm = clipGradientNorm(parameters, maxNorm: Float(settings.clipGrad))
                    window["grad_norm", default: (0, 0)].sum += Double(norm)
                    window["grad_norm", default: (0, 0)].count += 1
                }
                optimizer.step()
                state.step += 1
                state.stepInEpoch += 1
                imagesSeen += local.images * communicator.size
                for (k, v) in logs.merging(["loss": Double(value)], uniquingKeysWith: { a, _ in a }) {
                    window[k, default: (0, 0)].sum += v
                    window[k, default: (0, 0)].count += 1
                }
                let rate = Double(imagesSeen) / max(Date().timeIntervalSince(windowStart), 1e-9)
                progress.update(
                    done: state.step,
                    fields: [
                        "epoch": "\(epoch + 1)/\(settings.epochs)", "loss": String(format: "%.4f", value),
                        "lr": String(format: "%.2e", lr), "img/s": String(format: "%.1f", rate),
                    ])
                if state.step % settings.logEvery == 0 || state.stepInEpoch == perEpoch {
                    var metrics = window.mapValues { $0.sum / Double(max($0.count, 1)) }
                    metrics["lr"] = lr
                    metrics["images_per_second"] = rate
                    observer?.record(metrics: metrics, step: state.step)
                    latestMetrics.merge(metrics) { _, b in b }
                    window = [:]
                    imagesSeen = 0
                    windowStart = Date()
                }
                if isRoot && Date().timeIntervalSince(lastHeartbeat) > 5 {
                    observer?.heartbeat()
                    lastHeartbeat = Date()
                }
                // A stop at an epoch's last step is taken after the epoch's own checkpoint below.
                if state.stepInEpoch < perEpoch && (agreedStop ?? shouldStop(state.step)) {
                    progress.finish()
                    try commit(state, roles: [.last])
                    throw TrainingStop.interrupted(checkpoint: lastCheckpointPath)
                }
            }
            state.epoch += 1
            state.stepInEpoch = 0
            task.model.train(false)
            // Split over the ranks when the task can (the sums are added), else rank 0 evaluates
            // everything; either way the numbers are those of one process, and rank 0 records them.
            var evaluation: [String: Double]?
            if task.shardsEvaluation || isRoot {
                evaluation = try task.evaluate(epoch: epoch, over: EvaluationProcesses(communicator: communicator))
                if !isRoot { evaluation = nil }
            }
            task.model.train(true)
            var roles: [CheckpointCommit.Role] = [.last]
            if let evaluation {
                observer?.record(metrics: evaluation, step: state.step)
                latestMetrics.merge(evaluation) { _, b in b }
                progress.message(
                    "epoch \(epoch + 1): "
                        + evaluation.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }
                        .joined(separator: "  "))
                if let selection = task.selectionMetric, let value = evaluation[selection.name] {
                    let better =
                        state.bestMetric.map { selection.higherIsBetter ? value > $0 : value < $0 } ?? true
                    if better {
                        state.bestMetric = value
                        roles.append(.best)
                        bestPath = checkpointDirectory + "/best.safetensors"
                    }
                }
            }
            let periodic = settings.checkpointEvery > 0 && state.epoch % settings.checkpointEvery == 0
            if periodic && state.epoch < settings.epochs { roles.append(.epoch(state.epoch)) }
            // One commit serves every role of this step: last, best and the periodic copy.
            try commit(state, roles: roles)
            if try agreeToStop(state.step) && state.epoch < settings.epochs {
                progress.finish()
                throw TrainingStop.interrupted(checkpoint: lastCheckpointPath)
            }
        }
        progress.update(
            done: state.step, fields: ["loss": latestMetrics["loss"].map { String(format: "%.4f", $0) } ?? "-"],
            force: true)
        progress.finish()
        return Summary(
            lastCheckpoint: lastCheckpointPath, bestCheckpoint: bestPath, finalMetrics: latestMetrics,
            steps: state.step,
            seconds: Date().timeIntervalSince(started))
    }

    /// What this rank's micro-batches of one step left: the summed loss, logs, and the error if one failed.
    private struct LocalStep {
        var lossSum = 0.0
        var logs: [String: Double] = [:]
        var images = 0
        var failure: Error?
    }

    /// Runs this rank's `accumulationSteps` micro-batches of step `step`, adding
    /// their gradients, each scaled by 1/K (the mean over the micro-batches).
    private func accumulate(from batches: BatchIterator, step: Int) -> LocalStep {
        var local = LocalStep()
        optimizer.zeroGrad()
        let k = settings.accumulationSteps
        for j in 0..<k {
            do {
                guard var batch = try batches.next() else {
                    local.failure = DataEndedEarly(step: step + 1, microBatch: j + 1, of: k)
                    return local
                }
                batch.position = MicroBatchPosition(step: step, index: communicator.rank * k + j)
                let (loss, logs) = try task.loss(for: batch)
                let value = loss.item()
                local.lossSum += Double(value)
                for (key, v) in logs { local.logs[key, default: 0] += v }
                local.images += batch.images.shape[0]
                guard value.isFinite else { return local }
                loss.backward(k == 1 ? nil : Tensor.full(loss.shape, 1 / Float(k)))
            } catch {
                local.failure = error
                return local
            }
        }
        return local
    }

    /// Agrees with the other ranks on the step: whether one failed (then every rank
    /// throws the failing ranks' messages), the mean loss and logs over all
    /// micro-batches, and whether to stop after it (nil in one process: the loop
    /// asks after the step).
    private func agree(on local: LocalStep, step: Int) throws -> (loss: Float, logs: [String: Double], stop: Bool?) {
        let k = Double(settings.accumulationSteps * communicator.size)
        if communicator.size == 1 {
            if let failure = local.failure { throw failure }
            return (Float(local.lossSum / k), local.logs.mapValues { $0 / k }, nil)
        }
        let keys = local.logs.keys.sorted()
        var status = [local.lossSum, local.failure == nil ? 0 : 1, shouldStop(step + 1) ? 1 : 0]
        try status.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
        if status[1] > 0 {
            let message = local.failure.map { ($0 as? UserFacingError)?.report ?? "\($0)" } ?? ""
            let messages = try communicator.allgather(bytes: Array(message.utf8))
            throw RankFailure(
                failures: messages.enumerated().filter { !$0.element.isEmpty }.map {
                    (rank: $0.offset, message: String(decoding: $0.element, as: UTF8.self))
                })
        }
        var values = keys.map { local.logs[$0]! }
        try values.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
        return (Float(status[0] / k), Dictionary(uniqueKeysWithValues: zip(keys, values.map { $0 / k })), status[2] > 0)
    }

    /// Whether the ranks agreed to stop after step `step` (any rank asked).
    private func agreeToStop(_ step: Int) throws -> Bool {
        guard communicator.size > 1 else { return shouldStop(step) }
        var flag = [shouldStop(step) ? 1.0 : 0]
        try flag.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
        return flag[0] > 0
    }

    /// Writes the checkpoint of this step as one commit (``CheckpointCommit``), publishes it
    /// under `roles`' names, records them, then prunes older step files. Rank 0 alone writes.
    private func commit(_ state: TrainerState, roles: [CheckpointCommit.Role]) throws {
        guard isRoot else { return }
        var s = state
        s.modelGenerator = modelRandom.state
        s.taskGenerator = task.generatorState
        let commit = CheckpointCommit(folder: URL(fileURLWithPath: checkpointDirectory), run: checkpointRun)
        let published = try commit.write(
            model: task.model, optimizer: optimizer, state: s, metadata: checkpointMetadata, roles: roles)
        for file in published {
            observer?.checkpointWritten(path: file.path, role: file.role, epoch: s.epoch, step: s.step)
        }
        commit.prune(after: s.step)
    }
}
