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

    public func parameterGroups() -> [ParameterGroup] {
        LayerDecayGroups.make(
            classifier.namedParameters(), backbone: classifier.backbone,
            backboneNames: Set(classifier.backbone.namedParameters().map(\.0)), decay: layerDecay,
            weightDecay: weightDecay)
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

    public func evaluate(epoch: Int) throws -> [String: Double]? {
        guard let validation else { return nil }
        return try ClassificationEvaluation.run(classifier, on: validation).metrics
    }
}

/// Top-1 / top-5 accuracy and mean cross-entropy of a classifier on a split.
public struct ClassificationEvaluation {
    public var top1: Double
    public var top5: Double
    public var loss: Double
    public var images: Int

    public var metrics: [String: Double] { ["top1": top1, "top5": top5, "val_loss": loss] }

    /// Evaluates in inference mode without recording the graph.
    public static func run(_ model: ClassifierModel, on data: ImageBatchLoader) throws -> ClassificationEvaluation {
        var correct1 = 0
        var correct5 = 0
        var lossSum = 0.0
        var seen = 0
        let batches = data.batches(epoch: 0, skip: 0)
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
        let n = Double(max(seen, 1))
        return ClassificationEvaluation(
            top1: Double(correct1) / n, top5: Double(correct5) / n, loss: lossSum / n, images: seen)
    }
}
