import Foundation
import MixKit
import MixmaeData

/// MixMAE pretraining: per batch one mask on the final-stage grid, image i
/// mixed with image B-1-i, backbone -> decoder -> loss.
public final class PretrainTask: TrainingTask {
    public let pretrain: PretrainModel
    public var sampler: MaskSampler
    public let weightDecay: Float
    /// Fixed validation images, `[N, 3, S, S]` (N even): the first ``validationCount``
    /// give val_loss, the first ``pictureCount`` the pictures.
    public let probeImages: Tensor?
    public let validationCount: Int
    public let pictureCount: Int
    /// Images per forward when measuring val_loss (even).
    public let evaluationBatch: Int
    public let normalization: Normalization
    /// Where pictures go, and how often (epochs; 0 = never).
    public private(set) var picturesDirectory: String
    public let picturesEvery: Int
    /// Set for `mask.mode: mask_token` (the SimMIM-style baseline); nil for MixMAE.
    public var maskTokenParts: MaskTokenParts?

    public var model: Module { pretrain }

    public init(
        model: PretrainModel, sampler: MaskSampler, weightDecay: Double, probeImages: Tensor?, validationCount: Int,
        pictureCount: Int, evaluationBatch: Int, normalization: Normalization, picturesDirectory: String,
        picturesEvery: Int
    ) {
        let available = probeImages?.shape[0] ?? 0
        self.pretrain = model
        self.sampler = sampler
        self.weightDecay = Float(weightDecay)
        self.probeImages = probeImages
        self.validationCount = min(validationCount, available) / 2 * 2
        self.pictureCount = min(pictureCount, available) / 2 * 2
        self.evaluationBatch = max(2, evaluationBatch / 2 * 2)
        self.normalization = normalization
        self.picturesDirectory = picturesDirectory
        self.picturesEvery = picturesEvery
    }

    public func attach(runDirectory: String) { picturesDirectory = runDirectory + "/pictures" }

    public func parameterGroups() -> [ParameterGroup] {
        ParameterGroup.decayAndNoDecay(pretrain.namedParameters(), weightDecay: weightDecay)
    }

    public func loss(for batch: Batch) throws -> (loss: Tensor, logs: [String: Double]) {
        let mixing = batch.position.map { sampler.mask(at: $0) } ?? sampler.next()
        return (forward(batch.images, mask: mixing).loss, [:])
    }

    /// The forward pass of the recipe's `mask.mode` under the batch mask.
    func forward(_ images: Tensor, mask: MixingMask) -> PretrainModel.Output {
        if let parts = maskTokenParts { return pretrain(images, maskedBy: mask, parts: parts) }
        return pretrain(images, mixing: mask)
    }

    public var generatorState: [UInt64]? {
        get { sampler.generator.state }
        set {
            if let s = newValue, let g = RandomGenerator(state: s) { sampler.generator = g }
        }
    }

    public func evaluate(epoch: Int) throws -> [String: Double]? { try evaluate(epoch: epoch, over: .single) }

    public var shardsEvaluation: Bool { true }

    /// The reconstruction loss on the validation images under one fixed mask
    /// (image i mixed with image B-1-i of each evaluation batch), each process taking
    /// every `processes.count`-th evaluation batch; rank 0 draws a picture every
    /// ``picturesEvery`` epochs.
    public func evaluate(epoch: Int, over processes: EvaluationProcesses) throws -> [String: Double]? {
        guard let images = probeImages else { return nil }
        var fixed = MaskSampler(
            height: sampler.height, width: sampler.width, ratio: sampler.ratio, extraRatio: 0, seed: 12345)
        let mixing = fixed.next()
        var metrics: [String: Double] = [:]
        if validationCount > 0 {
            let total = try processes.sum {
                var total = 0.0
                let starts = stride(from: 0, to: validationCount, by: evaluationBatch)
                for (index, start) in starts.enumerated() where processes.owns(batch: index) {
                    let count = min(evaluationBatch, validationCount - start)
                    let batch = withNoGrad {
                        forward(images.slice(axis: 0, start..<(start + count)), mask: mixing)
                    }
                    total += Double(batch.loss.item()) * Double(count)
                }
                return [total]
            }
            metrics["val_loss"] = total[0] / Double(validationCount)
        }
        if processes.rank == 0 && pictureCount > 0 && picturesEvery > 0 && (epoch + 1) % picturesEvery == 0 {
            let shown = images.slice(axis: 0, 0..<pictureCount)
            let out = withNoGrad { forward(shown, mask: mixing) }
            let picture = try ReconstructionPicture(
                images: shown, output: out, mixing: mixing, maskTokens: maskTokenParts != nil,
                patchSize: pretrain.decoder.patchSize,
                normalizedTargets: pretrain.objective.normalizesTargets, normalization: normalization)
            try FileManager.default.createDirectory(atPath: picturesDirectory, withIntermediateDirectories: true)
            try picture.image.write(
                toFile: picturesDirectory + String(format: "/reconstruction-epoch-%04d.png", epoch + 1))
        }
        return metrics.isEmpty ? nil : metrics
    }
}
