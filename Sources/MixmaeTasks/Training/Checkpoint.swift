import Foundation
import MixKit
import MixmaeSupport

/// Where a training run stands, saved with every checkpoint so that `--resume`
/// continues exactly: the same weights after N + N steps as after 2N.
public struct TrainerState: Codable, Equatable, Sendable {
    /// Epochs fully done.
    public var epoch: Int
    /// Optimizer steps taken since the start of the run.
    public var step: Int
    /// Steps taken inside the current (unfinished) epoch.
    public var stepInEpoch: Int
    /// State of the model's generator (dropout, drop path).
    public var modelGenerator: [UInt64]
    /// State of the task's own generator (MixMAE masks), if it has one.
    public var taskGenerator: [UInt64]?
    /// The best value of the task's selection metric so far, if any.
    public var bestMetric: Double?

    public init(
        epoch: Int, step: Int, stepInEpoch: Int, modelGenerator: [UInt64], taskGenerator: [UInt64]? = nil,
        bestMetric: Double? = nil
    ) {
        self.epoch = epoch
        self.step = step
        self.stepInEpoch = stepInEpoch
        self.modelGenerator = modelGenerator
        self.taskGenerator = taskGenerator
        self.bestMetric = bestMetric
    }

    private enum CodingKeys: String, CodingKey {
        case epoch, step, stepInEpoch, modelGenerator, taskGenerator, bestMetric
        /// What checkpoints written before the model owned its generator call it.
        case globalGenerator
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        step = try c.decode(Int.self, forKey: .step)
        stepInEpoch = try c.decode(Int.self, forKey: .stepInEpoch)
        modelGenerator =
            try c.decodeIfPresent([UInt64].self, forKey: .modelGenerator)
            ?? c.decode([UInt64].self, forKey: .globalGenerator)
        taskGenerator = try c.decodeIfPresent([UInt64].self, forKey: .taskGenerator)
        bestMetric = try c.decodeIfPresent(Double.self, forKey: .bestMetric)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(step, forKey: .step)
        try c.encode(stepInEpoch, forKey: .stepInEpoch)
        try c.encode(modelGenerator, forKey: .modelGenerator)
        try c.encodeIfPresent(taskGenerator, forKey: .taskGenerator)
        try c.encodeIfPresent(bestMetric, forKey: .bestMetric)
    }
}

/// A checkpoint on disk: `NAME.safetensors` holds the weights under the
/// reference parameter names (PyTorch can load it with `safetensors.torch.load_file`),
/// `NAME.optim.safetensors` the optimizer state and, in its metadata, the
/// ``TrainerState``. Each file is written atomically (temporary file, fsync,
/// rename), optimizer state first; a training run commits the pair with a manifest
/// (``CheckpointCommit``), so a kill between the two files leaves the previous checkpoint in force.
///
/// ```swift
/// try Checkpoint.save(model: model, optimizer: opt, state: state, to: dir + "/last.safetensors")
/// let (weights, _) = try Checkpoint.loadWeights(dir + "/last.safetensors")
/// ```
public enum Checkpoint {
    /// The optimizer-state file that goes with a weights file.
    public static func optimizerPath(for weightsPath: String) -> String {
        let base = weightsPath.hasSuffix(".safetensors") ? String(weightsPath.dropLast(12)) : weightsPath
        return base + ".optim.safetensors"
    }

    /// Writes weights, optimizer state and trainer state.
    /// `afterOptimizer` runs between the two files (the kill tests stop there).
    public static func save(
        model: Module, optimizer: Optimizer?, state: TrainerState, metadata: [String: String] = [:], to path: String,
        afterOptimizer: () -> Void = {}
    ) throws {
        let stateJSON = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        if let optimizer {
            try SafeTensors.write(
                optimizer.stateDict(), metadata: ["mixmae.trainer_state": stateJSON], to: optimizerPath(for: path))
            afterOptimizer()
        }
        var meta = metadata
        meta["format"] = "pt"
        meta["mixmae.step"] = String(state.step)
        meta["mixmae.epoch"] = String(state.epoch)
        try SafeTensors.write(model.stateDict(), metadata: meta, to: path)
    }

    /// The weights of a checkpoint, and its metadata.
    public static func loadWeights(_ path: String) throws -> ([String: Tensor], [String: String]) {
        let file = try WeightsFile.open(path)
        return (try file.tensors(), file.metadata)
    }

    /// Restores the optimizer from the state next to `path` and returns the trainer state.
    public static func loadTrainingState(_ path: String, into optimizer: Optimizer) throws -> TrainerState {
        let optimPath = optimizerPath(for: path)
        guard FileManager.default.fileExists(atPath: optimPath) else {
            throw InputError(
                file: optimPath,
                problem:
                    "no optimizer state next to the checkpoint; a run can only resume from a checkpoint written by training"
            )
        }
        let file = try SafeTensorsFile(path: optimPath)
        guard let json = file.metadata["mixmae.trainer_state"],
            let state = try? JSONDecoder().decode(TrainerState.self, from: Data(json.utf8))
        else {
            throw InputError(file: optimPath, problem: "its metadata has no readable 'mixmae.trainer_state'")
        }
        let weights = try SafeTensorsFile(path: path)
        if let step = weights.metadata["mixmae.step"], step != String(state.step) {
            throw InputError(
                file: path,
                problem:
                    "weights are from step \(step) but the optimizer state is from step \(state.step): the pair is not from one checkpoint"
            )
        }
        try optimizer.load(stateDict: try file.tensors())
        return state
    }
}
