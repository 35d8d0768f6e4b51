import Foundation
import MixKit

/// The mask branch of Mask R-CNN's RoI head, as mmdetection's `FCNMaskHead`:
/// RoIAlign 14x14 from the FPN level each RoI's scale picks, four 3x3
/// convolutions + ReLU, a stride-2 deconvolution + ReLU, and a 1x1 convolution
/// to one 28x28 mask logit map per class.
///
/// Training (`mask_target` + `mask_cross_entropy`): the sampled positive RoIs of
/// every image; each one's target is its truth instance's mask cropped to the RoI
/// and resized to 28x28 by RoIAlign, then `>= 0.5` (``InstanceMasks/cropAndResize(indices:boxes:size:)``);
/// binary cross-entropy of the logits of the RoI's class, averaged over all pixels of all RoIs.
/// Inference: the detections' boxes as RoIs; the sigmoid of their class's logits.
///
/// Tensor names follow mmdetection: `convs.0.conv.weight`, `upsample.weight`, `conv_logits.weight`.
package final class FCNMaskHead: Module, RoIMaskHead {
    let convs: [ConvModule]
    let upsample: TransposedConvolution
    let convLogits: Conv2d
    package let config: RoIMaskConfig

    package var maskSize: Int { config.maskSize }

    package init(_ config: RoIMaskConfig, rng: RandomSource) {
        self.config = config
        convs = (0..<config.numConvs).map { i in
            ConvModule(
                i == 0 ? config.inChannels : config.convOutChannels, config.convOutChannels, kernelSize: 3, padding: 1,
                rng: rng)
        }
        let last = config.numConvs > 0 ? config.convOutChannels : config.inChannels
        upsample = TransposedConvolution(last, config.convOutChannels, factor: 2, rng: rng)
        convLogits = Conv2d(config.convOutChannels, config.numClasses, kernelSize: 1, rng: rng)
        super.init()
        // mmdetection's init: Kaiming normal (fan_out, ReLU) and zero bias for the
        // convolutions (mmcv ConvModule), the deconvolution and the logits.
        for conv in convs.map(\.conv) + [convLogits] {
            Init.kaimingNormal(conv.weight, using: rng)
            Init.constant(conv.bias!, 0)
        }
        Init.kaimingNormal(upsample.weight, using: rng)
        Init.constant(upsample.bias, 0)
    }

    /// Mask logits `[n, classes, 28, 28]` of the RoIs `[n, 5]`.
    package func forward(_ features: [FeatureMap], rois: Tensor) -> Tensor {
        let levels = features.prefix(config.extractor.featureStrides.count).map { $0.nchw() }
        var x = config.extractor(Array(levels), rois: rois)
        for conv in convs { x = conv(x) }
        return convLogits(upsample(x).relu())
    }

    /// The logits of each RoI's own class, `[n, side * side]`.
    func ownClass(_ logits: Tensor, labels: [Int]) -> Tensor {
        let k = config.numClasses
        let side = logits.shape[2]
        let rows = labels.enumerated().map { $0.offset * k + $0.element }
        return logits.reshaped([-1, side * side]).indexSelect(axis: 0, indices: rows)
    }

    package func loss(_ features: [FeatureMap], samples: [SamplingResult], masks: [InstanceMasks]) -> HeadLoss {
        precondition(samples.count == masks.count, "roi-mask: \(samples.count) samplings, \(masks.count) mask sets")
        var boxes: [[BoundingBox]] = []
        var labels: [Int] = []
        var wanted: [Float] = []
        for (sample, masks) in zip(samples, masks) {
            boxes.append(sample.positivePriors)
            labels += sample.positiveLabels
            guard !sample.positiveIndices.isEmpty else { continue }
            precondition(
                masks.count == sample.truth.count,
                "roi-mask: \(masks.count) instance masks for \(sample.truth.count) truth boxes")
            wanted += Profiler.measure("mask_targets") {
                masks.cropAndResize(indices: sample.positiveTruthIndices, boxes: sample.positivePriors, size: maskSize)
                    .scalars
            }
        }
        guard !labels.isEmpty else { return HeadLoss(total: Tensor(scalar: 0), terms: ["loss_mask": 0]) }
        let logits = ownClass(forward(features, rois: RoIAlign.rois(boxes)), labels: labels)
        let loss =
            binaryCrossEntropyWithLogits(logits, targets: Tensor(shape: logits.shape, scalars: wanted)).mean()
            * config.maskWeight
        return HeadLoss(total: loss, terms: ["loss_mask": Double(loss.item())])
    }

    package func predict(_ features: [FeatureMap], detections: [[Detection]]) -> [[[Float]]] {
        let count = detections.reduce(0) { $0 + $1.count }
        guard count > 0 else { return detections.map { _ in [] } }
        let plane = maskSize * maskSize
        let probabilities = withNoGrad {
            ownClass(
                forward(features, rois: RoIAlign.rois(detections.map { $0.map(\.box) })),
                labels: detections.flatMap { $0.map(\.label) }
            ).sigmoid()
        }.scalars
        var offset = 0
        return detections.map { found in
            defer { offset += found.count }
            return (0..<found.count).map { Array(probabilities[((offset + $0) * plane)..<((offset + $0 + 1) * plane)]) }
        }
    }
}
