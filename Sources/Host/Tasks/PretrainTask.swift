import Foundation
import MixKit

/// MixMAE pretraining: per batch one mask on the final-stage grid, image i
/// mixed with image B-1-i, backbone -> decoder -> loss.
public final class PretrainTask: TrainingTask {
    public let pretrain: PretrainModel
    public var sampler: MaskSampler
    public let weightDecay: Float
    /// Fixed images for pictures and the validation loss, `[N, 3, S, S]` (N even).
    public let probeImages: Tensor?
    public let normalization: Normalization
    /// Where pictures go, and how often (epochs; 0 = never).
    public private(set) var picturesDirectory: String
    public let picturesEvery: Int

    public var model: Module { pretrain }

    public init(
        model: PretrainModel, sampler: MaskSampler, weightDecay: Double, probeImages: Tensor?,
        normalization: Normalization, picturesDirectory: String, picturesEvery: Int
    ) {
        self.pretrain = model
        self.sampler = sampler
        self.weightDecay = Float(weightDecay)
        self.probeImages = probeImages
        self.normalization = normalization
        self.picturesDirectory = picturesDirectory
        self.picturesEvery = picturesEvery
    }

    public func attach(runDirectory: String) { picturesDirectory = runDirectory + "/pictures" }

    public func parameterGroups() -> [ParameterGroup] {
        ParameterGroup.decayAndNoDecay(pretrain.namedParameters(), weightDecay: weightDecay)
    }

    public func loss(for batch: Batch) throws -> (loss: Tensor, logs: [String: Double]) {
        let mixing = sampler.next()
        return (pretrain(batch.images, mixing: mixing).loss, [:])
    }

    public var generatorState: [UInt64]? {
        get { sampler.generator.state }
        set {
            if let s = newValue, let g = RandomGenerator(state: s) { sampler.generator = g }
        }
    }

    /// The reconstruction loss on the probe images under a fixed mask, and a
    /// picture every ``picturesEvery`` epochs.
    public func evaluate(epoch: Int) throws -> [String: Double]? {
        guard let images = probeImages else { return nil }
        var fixed = MaskSampler(
            height: sampler.height, width: sampler.width, ratio: sampler.ratio, extraRatio: 0, seed: 12345)
        let mixing = fixed.next()
        let out = withNoGrad { pretrain(images, mixing: mixing) }
        if picturesEvery > 0 && (epoch + 1) % picturesEvery == 0 {
            let picture = try ReconstructionPicture(
                images: images, output: out, mixing: mixing, patchSize: pretrain.decoder.patchSize,
                normalizedTargets: pretrain.objective.normalizesTargets, normalization: normalization)
            try FileManager.default.createDirectory(atPath: picturesDirectory, withIntermediateDirectories: true)
            try picture.image.write(
                toFile: picturesDirectory + String(format: "/reconstruction-epoch-%04d.png", epoch + 1))
        }
        return ["val_loss": Double(out.loss.item())]
    }
}
