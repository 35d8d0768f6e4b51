import Foundation
import MixKit

/// The region proposal network of Mask R-CNN, as mmdetection's `RPNHead`: one
/// 3x3 convolution + ReLU shared by all levels, then a 1x1 objectness logit and
/// four box deltas for each of the A anchors of a cell.
///
/// Training (mmdet's `AnchorHead.loss`): per image, the anchors on cells of its
/// padded size are assigned by ``MaxIoUAssigner`` (0.7 / 0.3, low-quality matches
/// from 0.3) and 256 of them sampled, at most half positive; sigmoid BCE on the
/// sampled anchors and L1 on the positives' deltas (``DeltaXYWHBBoxCoder/rpn``),
/// both summed and divided by the number of sampled anchors of the batch.
/// Proposals (`_get_bboxes_single`): per level the top `nms_pre` anchors by
/// score, decoded and clipped to the image, empty boxes dropped, NMS 0.7 within
/// each level, the best `max_per_img` kept.
///
/// Tensor names follow mmdetection: `rpn_conv.weight`, `rpn_cls.weight`, `rpn_reg.weight`.
package final class RPNHead: Module, RegionProposalHead {
    let rpnConv: Conv2d
    let rpnCls: Conv2d
    let rpnReg: Conv2d
    package let config: RPNConfig
    /// The model's generator, which the sampler draws from.
    package let rng: RandomSource

    package init(_ config: RPNConfig, rng: RandomSource) {
        self.config = config
        self.rng = rng
        let a = config.anchors.anchorsPerCell
        rpnConv = Conv2d(config.inChannels, config.featChannels, kernelSize: 3, padding: 1, rng: rng)
        rpnCls = Conv2d(config.featChannels, a, kernelSize: 1, rng: rng)
        rpnReg = Conv2d(config.featChannels, 4 * a, kernelSize: 1, rng: rng)
        super.init()
        // mmdetection's init_cfg: Normal(std=0.01) for every convolution, zero bias.
        for conv in [rpnConv, rpnCls, rpnReg] {
            Init.normal(conv.weight, std: 0.01, using: rng)
            Init.constant(conv.bias!, 0)
        }
    }

    /// The head's outputs on every level, one row per anchor, image-major, then
    /// level, then cell (row-major), then the A anchors of the cell (mmdet's order).
    package struct Outputs {
        /// `[B * N]` objectness logits.
        package var objectness: Tensor
        /// `[B * N, 4]` deltas.
        package var deltas: Tensor
        /// The `N` anchors of one image, in row order.
        package var anchors: [BoundingBox]
        /// Level of each anchor.
        package var levels: [Int]
        /// Per level: height and width of the map.
        package var sizes: [(height: Int, width: Int)]

        package var anchorCount: Int { anchors.count }
    }

    package func forward(_ features: [FeatureMap]) -> Outputs {
        precondition(
            features.count == config.anchors.levels,
            "rpn: built for \(config.anchors.levels) levels (strides \(config.anchors.strides)), got \(features.count)")
        let batch = features[0].tensor.shape[0]
        let a = config.anchors.anchorsPerCell
        var objectness: [Tensor] = []
        var deltas: [Tensor] = []
        var anchors: [BoundingBox] = []
        var levels: [Int] = []
        var sizes: [(height: Int, width: Int)] = []
        for (level, map) in features.enumerated() {
            let h = rpnConv(map.nchw()).relu()
            let cells = map.height * map.width
            objectness.append(rpnCls(h).permuted([0, 2, 3, 1]).reshaped([batch, cells * a]))
            deltas.append(rpnReg(h).permuted([0, 2, 3, 1]).reshaped([batch, cells * a, 4]))
            let levelAnchors = Profiler.measure("rpn_anchors") {
                config.anchors.anchors(level: level, height: map.height, width: map.width)
            }
            anchors += levelAnchors
            levels += [Int](repeating: level, count: levelAnchors.count)
            sizes.append((map.height, map.width))
        }
        return Outputs(
            objectness: concatenate(objectness, axis: 1).reshaped([-1]),
            deltas: concatenate(deltas, axis: 1).reshaped([-1, 4]), anchors: anchors, levels: levels, sizes: sizes)
    }

    package func loss(_ features: [FeatureMap], targets: [DetectionTarget], images: [DetectionImageShape])
        -> (loss: HeadLoss, proposals: [[BoundingBox]])
    {
        let outputs = forward(features)
        let n = outputs.anchorCount
        let batch = outputs.objectness.shape[0] / max(n, 1)
        precondition(
            targets.count == batch && images.count == batch,
            "rpn: \(targets.count) targets and \(images.count) image shapes for a batch of \(batch)")
        var sampledRows: [Int] = []
        var sampledTargets: [Float] = []
        var positiveRows: [Int] = []
        var positiveDeltas: [Float] = []
        var positiveCount = 0
        Profiler.measure("rpn_targets") {
            for (image, target) in targets.enumerated() {
                let valid = validAnchors(outputs, paddedSize: images[image].paddedSize)
                let priors = valid.map { outputs.anchors[$0] }
                let zeros = [Int](repeating: 0, count: target.boxes.count)
                let assignment = config.assigner.assign(
                    priors: priors, truth: target.boxes, labels: zeros, ignored: target.ignoredRegions)
                let sample = rng.withGenerator {
                    config.sampler.sample(
                        assignment, priors: priors, truth: target.boxes, truthLabels: zeros, using: &$0)
                }
                for p in sample.positiveIndices {
                    sampledRows.append(image * n + valid[p])
                    sampledTargets.append(1)
                    positiveRows.append(image * n + valid[p])
                }
                for q in sample.negativeIndices {
                    sampledRows.append(image * n + valid[q])
                    sampledTargets.append(0)
                }
                positiveDeltas += DeltaXYWHBBoxCoder.rpn.encode(sample.positivePriors, to: sample.positiveTruthBoxes)
                positiveCount += sample.positiveIndices.count
            }
        }
        let samples = Float(max(sampledRows.count, 1))
        var lossCls = Tensor(scalar: 0)
        if !sampledRows.isEmpty {
            let logits = outputs.objectness.indexSelect(axis: 0, indices: sampledRows)
            lossCls =
                binaryCrossEntropyWithLogits(logits, targets: Tensor(sampledTargets)).sum()
                * (config.clsWeight / samples)
        }
        var lossBbox = Tensor(scalar: 0)
        if !positiveRows.isEmpty {
            let predicted = outputs.deltas.indexSelect(axis: 0, indices: positiveRows)
            let wanted = Tensor(shape: [positiveRows.count, 4], scalars: positiveDeltas)
            lossBbox = (predicted - wanted).abs().sum() * (config.bboxWeight / samples)
        }
        let proposals = Profiler.measure("rpn_proposals") { select(outputs, images: images, settings: config.train) }
        let terms: [String: Double] = [
            "loss_rpn_cls": Double(lossCls.item()), "loss_rpn_bbox": Double(lossBbox.item()),
            "rpn_num_pos": Double(positiveCount),
        ]
        return (HeadLoss(total: lossCls + lossBbox, terms: terms), proposals)
    }

    package func proposals(_ features: [FeatureMap], images: [DetectionImageShape]) -> [[BoundingBox]] {
        let outputs = withNoGrad { forward(features) }
        return Profiler.measure("rpn_proposals") { select(outputs, images: images, settings: config.test) }
    }

    /// Indices (into one image's anchors) of the anchors on cells of its padded size.
    package func validAnchors(_ outputs: Outputs, paddedSize: ImageSize) -> [Int] {
        var valid: [Int] = []
        var offset = 0
        for (level, size) in outputs.sizes.enumerated() {
            let flags = config.anchors.validFlags(
                level: level, height: size.height, width: size.width, paddedHeight: paddedSize.height,
                paddedWidth: paddedSize.width)
            for (i, flag) in flags.enumerated() where flag { valid.append(offset + i) }
            offset += flags.count
        }
        return valid
    }

    /// mmdet's `_get_bboxes_single` for every image of the batch.
    package func select(_ outputs: Outputs, images: [DetectionImageShape], settings: RPNConfig.ProposalSettings)
        -> [[BoundingBox]]
    {
        let n = outputs.anchorCount
        let logits = outputs.objectness.scalars
        let deltas = outputs.deltas.scalars
        var levelRanges: [Range<Int>] = []
        var start = 0
        for level in outputs.sizes.indices {
            var end = start
            while end < n && outputs.levels[end] == level { end += 1 }
            levelRanges.append(start..<end)
            start = end
        }
        return images.enumerated().map { image, shape in
            var chosen: [Int] = []
            var scores: [Float] = []
            var groups: [Int] = []
            for (level, range) in levelRanges.enumerated() {
                var order = Array(range)
                let score = { (i: Int) in Self.sigmoid(logits[image * n + i]) }
                if order.count > settings.preNMS {
                    let levelScores = order.map(score)
                    order = order.indices.sorted {
                        levelScores[$0] != levelScores[$1] ? levelScores[$0] > levelScores[$1] : $0 < $1
                    }.prefix(settings.preNMS).map { order[$0] }
                }
                for i in order {
                    chosen.append(i)
                    scores.append(score(i))
                    groups.append(level)
                }
            }
            let boxes = DeltaXYWHBBoxCoder.rpn.decode(
                chosen.map { outputs.anchors[$0] },
                deltas: chosen.flatMap { deltas[(4 * (image * n + $0))..<(4 * (image * n + $0) + 4)] },
                maxShape: (shape.size.height, shape.size.width))
            let nonEmpty = boxes.indices.filter { boxes[$0].width > 0 && boxes[$0].height > 0 }
            let keep = NonMaximumSuppression.batched(
                boxes: nonEmpty.map { boxes[$0] }, scores: nonEmpty.map { scores[$0] },
                groups: nonEmpty.map { groups[$0] }, iouThreshold: settings.iouThreshold,
                maxCount: settings.maxPerImage)
            return keep.map { boxes[nonEmpty[$0]] }
        }
    }

    static func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
}
