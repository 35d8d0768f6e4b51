import Foundation
import MixKit

/// The box branch of Mask R-CNN's RoI head, as mmdetection's `StandardRoIHead`
/// with `Shared2FCBBoxHead`: every RoI is pooled by RoIAlign (7x7) from the FPN
/// level its scale picks, flattened, passed through two shared fully connected
/// layers (1024, ReLU), then to class scores (classes + background) and
/// class-specific box deltas (``DeltaXYWHBBoxCoder/rcnn``).
///
/// Training: each image's proposals, with its truth boxes added, are assigned
/// (IoU 0.5) and 512 sampled, at most a quarter positive (positives first, then
/// negatives, as mmdet orders them); softmax cross-entropy over the sampled RoIs
/// (background = the last class) and L1 on the positives' deltas of their class,
/// summed and divided by the number of sampled RoIs.
/// Inference (`simple_test_bboxes` + `multiclass_nms`): softmax scores, deltas
/// decoded per class and clipped to the image, scores above the threshold, NMS
/// per class, the best `max_per_img`.
///
/// Tensor names follow mmdetection: `shared_fcs.0.weight`, `shared_fcs.1.weight`, `fc_cls.*`, `fc_reg.*`.
package final class SharedFCBoxHead: Module, RoIBoxHead {
    package let sharedFcs: [Linear]
    package let fcCls: Linear
    package let fcReg: Linear
    package let config: RoIBoxConfig
    /// The model's generator, which the sampler draws from.
    package let rng: RandomSource

    package var classCount: Int { config.numClasses }

    package init(_ config: RoIBoxConfig, rng: RandomSource) {
        self.config = config
        self.rng = rng
        let pooled = config.inChannels * config.extractor.outputSize * config.extractor.outputSize
        sharedFcs = [
            Linear(pooled, config.fcOutChannels, rng: rng),
            Linear(config.fcOutChannels, config.fcOutChannels, rng: rng),
        ]
        fcCls = Linear(config.fcOutChannels, config.numClasses + 1, rng: rng)
        fcReg = Linear(config.fcOutChannels, 4 * config.numClasses, rng: rng)
        super.init()
        // mmdetection's init: shared layers Xavier uniform, fc_cls N(0, 0.01), fc_reg N(0, 0.001), zero biases.
        for fc in sharedFcs { Init.xavierUniform(fc.weight, using: rng) }
        Init.normal(fcCls.weight, std: 0.01, using: rng)
        Init.normal(fcReg.weight, std: 0.001, using: rng)
        for fc in sharedFcs + [fcCls, fcReg] { Init.constant(fc.bias!, 0) }
    }

    /// Class logits `[n, classes + 1]` and deltas `[n, 4 * classes]` of the RoIs `[n, 5]`.
    package func forward(_ features: [FeatureMap], rois: Tensor) -> (scores: Tensor, deltas: Tensor) {
        let levels = features.prefix(config.extractor.featureStrides.count).map { $0.nchw() }
        let pooled = config.extractor(Array(levels), rois: rois)
        var x = pooled.reshaped([pooled.shape[0], -1])
        for fc in sharedFcs { x = fc(x).relu() }
        return (fcCls(x), fcReg(x))
    }

    package func loss(_ features: [FeatureMap], proposals: [[BoundingBox]], targets: [DetectionTarget])
        -> (loss: HeadLoss, samples: [SamplingResult])
    {
        precondition(
            proposals.count == targets.count, "roi-box: \(proposals.count) proposal lists, \(targets.count) targets")
        let samples = Profiler.measure("roi_targets") {
            zip(proposals, targets).map { priors, target in
                let assignment = config.assigner.assign(
                    priors: priors, truth: target.boxes, labels: target.labels, ignored: target.ignoredRegions)
                return rng.withGenerator {
                    config.sampler.sample(
                        assignment, priors: priors, truth: target.boxes, truthLabels: target.labels, using: &$0)
                }
            }
        }
        let background = config.numClasses
        var labels: [Int] = []
        var positiveRows: [Int] = []
        var deltas: [Float] = []
        for sample in samples {
            for label in sample.positiveLabels {
                positiveRows.append(labels.count * config.numClasses + label)
                labels.append(label)
            }
            labels += [Int](repeating: background, count: sample.negativeIndices.count)
            deltas += DeltaXYWHBBoxCoder.rcnn.encode(sample.positivePriors, to: sample.positiveTruthBoxes)
        }
        guard !labels.isEmpty else {
            let zero = Tensor(scalar: 0)
            return (HeadLoss(total: zero, terms: ["loss_cls": 0, "loss_bbox": 0, "acc": 0]), samples)
        }
        let rois = RoIAlign.rois(samples.map { $0.positivePriors + $0.negativePriors })
        let (scores, regression) = forward(features, rois: rois)
        let lossCls = crossEntropy(scores, labels: labels) * config.clsWeight
        var lossBbox = Tensor(scalar: 0)
        if !positiveRows.isEmpty {
            let predicted = regression.reshaped([-1, 4]).indexSelect(axis: 0, indices: positiveRows)
            let wanted = Tensor(shape: [positiveRows.count, 4], scalars: deltas)
            lossBbox = (predicted - wanted).abs().sum() * (config.bboxWeight / Float(labels.count))
        }
        let terms: [String: Double] = [
            "loss_cls": Double(lossCls.item()), "loss_bbox": Double(lossBbox.item()),
            "acc": accuracy(scores, labels), "roi_num_pos": Double(positiveRows.count),
        ]
        return (HeadLoss(total: lossCls + lossBbox, terms: terms), samples)
    }

    /// The percentage of sampled RoIs whose highest score is their label (mmdet's `acc`).
    func accuracy(_ scores: Tensor, _ labels: [Int]) -> Double {
        let k = scores.shape[1]
        let values = scores.scalars
        var correct = 0
        for (row, label) in labels.enumerated() {
            let slice = values[(row * k)..<((row + 1) * k)]
            if slice.indices.max(by: { values[$0] < values[$1] }).map({ $0 - row * k }) == label { correct += 1 }
        }
        return 100 * Double(correct) / Double(max(labels.count, 1))
    }

    package func predict(
        _ features: [FeatureMap], proposals: [[BoundingBox]], images: [DetectionImageShape],
        settings: DetectionSettings
    ) -> [[Detection]] {
        precondition(
            proposals.count == images.count, "roi-box: \(proposals.count) proposal lists, \(images.count) images")
        let total = proposals.reduce(0) { $0 + $1.count }
        guard total > 0 else { return proposals.map { _ in [] } }
        let (logits, regression) = withNoGrad { forward(features, rois: RoIAlign.rois(proposals)) }
        let scores = withNoGrad { logits.softmax(axis: -1) }.scalars
        let deltas = regression.scalars
        let k = config.numClasses
        var offset = 0
        return Profiler.measure("roi_postprocess") {
            zip(proposals, images).map { boxes, shape in
                defer { offset += boxes.count }
                let decoded = DeltaXYWHBBoxCoder.rcnn.decode(
                    boxes, deltas: Array(deltas[(offset * 4 * k)..<((offset + boxes.count) * 4 * k)]),
                    maxShape: (shape.size.height, shape.size.width))
                var candidates: [BoundingBox] = []
                var candidateScores: [Float] = []
                var candidateLabels: [Int] = []
                for i in 0..<boxes.count {
                    for label in 0..<k {
                        let score = scores[(offset + i) * (k + 1) + label]
                        guard score > settings.scoreThreshold else { continue }
                        candidates.append(decoded[i * k + label])
                        candidateScores.append(score)
                        candidateLabels.append(label)
                    }
                }
                let keep = NonMaximumSuppression.batched(
                    boxes: candidates, scores: candidateScores, groups: candidateLabels,
                    iouThreshold: settings.iouThreshold, maxCount: settings.maxPerImage)
                return keep.map {
                    Detection(box: candidates[$0], score: candidateScores[$0], label: candidateLabels[$0])
                }
            }
        }
    }
}
