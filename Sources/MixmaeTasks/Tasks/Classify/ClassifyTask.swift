import Foundation
import MixKit
import MixmaeData

/// Classification finetuning: backbone + head, soft-target cross-entropy with
/// label smoothing and mixup/cutmix, layer-wise learning-rate decay, top-1 and
/// top-5 on the validation split after every epoch (the best by top-1 is kept).
public final class ClassifyTask: TrainingTask {
    public let classifier: ClassifierModel
    public let mixing: MixupCutmix
    public let layerDecay: Double
    public let weightDecay: Double
    public let validation: ImageBatchLoader?
    public var generator: RandomGenerator
    /// Seeds the mixup/cutmix draws of each micro-batch (``MicroBatchPosition``).
    public let seed: UInt64
    /// Makes the report's grid of augmented training images (set by ``ClassifySetup``);
    /// written to `pictures/` when the run folder is attached.
    public var trainingPicture: (() throws -> AugmentedImagesPicture)?
    /// Lines for the log (a picture that could not be written).
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public var model: Module { classifier }
    public var selectionMetric: TaskMetric? { validation == nil ? nil : Classification().selectionMetric }

    public init(
        model: ClassifierModel, mixing: MixupCutmix, layerDecay: Double, weightDecay: Double,
        validation: ImageBatchLoader?, seed: UInt64
    ) {
        self.classifier = model
        self.mixing = mixing
        self.layerDecay = layerDecay
        self.weightDecay = weightDecay
        self.validation = validation
        self.generator = RandomGenerator(seed: seed)
        self.seed = seed
    }

    public func attach(runDirectory: String) {
        guard let trainingPicture else { return }
        let folder = runDirectory + "/pictures"
        do {
            let picture = try trainingPicture()
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try picture.image.write(toFile: folder + "/" + AugmentedImagesPicture.fileName)
        } catch {
            log("warning: no picture of the augmented training images: \(error)")
        }
    }

    public func parameterGroups() -> [ParameterGroup] {
        LayerDecayGroups.make(
            classifier.namedParameters(), backbone: classifier.backbone,
            backboneNames: Set(classifier.backbone.namedParameters().map(\.0)), decay: layerDecay,
            weightDecay: weightDecay, headsLikeFinalNorm: true)
    }

    public func loss(for batch: Batch) throws -> (loss: Tensor, logs: [String: Double]) {
        var drawn = batch.position?.generator(seed: seed)
        let (images, targets) =
            drawn == nil
            ? mixing.apply(batch.images, labels: batch.labels, using: &generator)
            : mixing.apply(batch.images, labels: batch.labels, using: &drawn!)
        let logits = classifier(images).logits
        return (softCrossEntropy(logits, targets: targets), [:])
    }

    public var generatorState: [UInt64]? {
        get { generator.state }
        set {
            if let s = newValue, let g = RandomGenerator(state: s) { generator = g }
        }
    }

    public func evaluate(epoch: Int) throws -> [String: Double]? { try evaluate(epoch: epoch, over: .single) }

    public var shardsEvaluation: Bool { true }

    /// Top-1, top-5 and loss on the validation split, each process taking every
    /// `processes.count`-th batch.
    public func evaluate(epoch: Int, over processes: EvaluationProcesses) throws -> [String: Double]? {
        guard let validation else { return nil }
        return try ClassificationEvaluation.run(classifier, on: validation, over: processes).metrics
    }
}

/// Top-1 / top-5 accuracy and mean cross-entropy of a classifier on a split.
public struct ClassificationEvaluation {
    public var top1: Double
    public var top5: Double
    public var loss: Double
    public var images: Int

    public var metrics: [String: Double] { ["top1": top1, "top5": top5, "val_loss": loss] }

    /// Evaluates in inference mode without recording the graph; over several processes
    /// each takes every `processes.count`-th batch and the counts are added.
    public static func run(
        _ model: ClassifierModel, on data: ImageBatchLoader, over processes: EvaluationProcesses = .single
    ) throws -> ClassificationEvaluation {
        let totals = try processes.sum {
            let batches =
                processes.count == 1
                ? data.batches(epoch: 0, skip: 0) : data.batches(epoch: 0, rank: processes.rank, of: processes.count)
            return try counts(model, batches)
        }
        let n = max(totals[3], 1)
        return ClassificationEvaluation(
            top1: totals[0] / n, top5: totals[1] / n, loss: totals[2] / n, images: Int(totals[3]))
    }

    /// Top-1 hits, top-5 hits, the summed loss and the images of `batches`.
    private static func counts(_ model: ClassifierModel, _ batches: BatchIterator) throws -> [Double] {
        var correct1 = 0
        var correct5 = 0
        var lossSum = 0.0
        var seen = 0
        while let batch = try batches.next() {
            let logits = withNoGrad { model(batch.images).logits }
            let classes = logits.shape[1]
            lossSum +=
                Double(withNoGrad { crossEntropy(logits, labels: batch.labels) }.item()) * Double(batch.labels.count)
            for (i, label) in batch.labels.enumerated() {
                let row = logits.data + i * classes
                let target = row[label]
                // Rank of the true class: how many classes score higher (ties count in its favour).
                var higher = 0
                for c in 0..<classes where row[c] > target { higher += 1 }
                if higher == 0 { correct1 += 1 }
                if higher < 5 { correct5 += 1 }
            }
            seen += batch.labels.count
        }
        return [Double(correct1), Double(correct5), lossSum, Double(seen)]
    }
}
