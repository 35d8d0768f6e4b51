import Foundation
import MixKit

/// FCOS (Tian et al. 2019), as mmdetection's `FCOSHead` with the
/// "center-normbbox-centeronreg-giou" improvements: two towers of 3x3 conv +
/// GroupNorm + ReLU shared by all levels, per-point class logits, `(l, t, r, b)`
/// distances with a learned scale per level, and centre-ness.
///
/// Training: targets by ``FCOSAssigner`` (size ranges per level, optional
/// centre sampling, smallest box wins); sigmoid focal loss over all points
/// divided by the positives; GIoU loss on positives weighted by their
/// centre-ness targets (divided by the targets' sum); binary cross-entropy of
/// centre-ness on positives divided by the positives.
/// Inference: score `sqrt(sigmoid(cls) * sigmoid(centerness))`, threshold,
/// top-k candidates per level, boxes clipped to the image, per-class NMS, top-k.
///
/// Tensor names follow mmdetection: `cls_convs.0.conv.weight`, `cls_convs.0.gn.weight`,
/// `reg_convs.*`, `conv_cls.*`, `conv_reg.*`, `conv_centerness.*`, `scales.0.scale`.
final class FCOSHead: Module, DetectionHead {
    let clsConvs: [ConvModule]
    let regConvs: [ConvModule]
    let convCls: Conv2d
    let convReg: Conv2d
    let convCenterness: Conv2d
    let scales: [Scale]
    let config: FCOSConfig

    var classCount: Int { config.numClasses }

    init(_ config: FCOSConfig, rng: RandomSource) {
        self.config = config
        let groups = config.numGroups > 0 ? config.numGroups : nil
        func tower() -> [ConvModule] {
            (0..<config.stackedConvs).map { i in
                ConvModule(
                    i == 0 ? config.inChannels : config.featChannels, config.featChannels, kernelSize: 3, padding: 1,
                    groupNormGroups: groups, rng: rng)
            }
        }
        clsConvs = tower()
        regConvs = tower()
        let towerOut = config.stackedConvs > 0 ? config.featChannels : config.inChannels
        convCls = Conv2d(towerOut, config.numClasses, kernelSize: 3, padding: 1, rng: rng)
        convReg = Conv2d(towerOut, 4, kernelSize: 3, padding: 1, rng: rng)
        convCenterness = Conv2d(towerOut, 1, kernelSize: 3, padding: 1, rng: rng)
        scales = config.strides.map { _ in Scale(1) }
        super.init()
        // mmdetection's init: convolutions N(0, 0.01) with zero bias; the classifier's
        // bias starts at the prior probability of foreground. A tower convolution
        // followed by GroupNorm is Kaiming-normal instead: the norm makes its scale
        // irrelevant to the output, and a scale well above the finite-difference
        // step keeps gradient checks linear.
        for (_, module) in namedModules() {
            guard let conv = module as? Conv2d else { continue }
            Init.normal(conv.weight, std: 0.01, using: rng)
            if let bias = conv.bias { Init.constant(bias, 0) }
        }
        for layer in clsConvs + regConvs where layer.gn != nil { Init.kaimingNormal(layer.conv.weight, using: rng) }
        Init.constant(convCls.bias!, -Foundation.log((1 - config.priorProb) / config.priorProb))
    }

    /// The head's outputs on one level, NCHW.
    struct LevelOutput {
        /// `[B, classes, H, W]` logits.
        var classLogits: Tensor
        /// `[B, 4, H, W]` distances `(l, t, r, b)` in pixels.
        var distances: Tensor
        /// `[B, 1, H, W]` logits.
        var centerness: Tensor
        var points: LevelPoints
    }

    func forward(_ features: [FeatureMap]) -> [LevelOutput] {
        precondition(
            features.count == config.strides.count,
            "fcos: built for \(config.strides.count) levels (strides \(config.strides)), got \(features.count)")
        return features.enumerated().map { level, map in
            let x = map.nchw()
            let clsFeature = clsConvs.reduce(x) { h, conv in conv(h) }
            let regFeature = regConvs.reduce(x) { h, conv in conv(h) }
            let raw = scales[level](convReg(regFeature))
            let distances: Tensor
            switch config.regressionMode {
            case .relu: distances = raw.relu() * Float(map.stride)
            case .exp: distances = raw.exp()
            }
            return LevelOutput(
                classLogits: convCls(clsFeature), distances: distances,
                centerness: convCenterness(config.centernessOnReg ? regFeature : clsFeature),
                points: LevelPoints(height: map.height, width: map.width, stride: map.stride))
        }
    }

    func loss(_ features: [FeatureMap], targets: [DetectionTarget]) -> HeadLoss {
        let outputs = forward(features)
        let batch = outputs[0].classLogits.shape[0]
        precondition(targets.count == batch, "fcos: \(targets.count) targets for a batch of \(batch)")
        let classes = config.numClasses
        let levels = outputs.map(\.points)
        let assigner = config.assigner
        let assignments = targets.map {
            assigner.assign(levels: levels, boxes: $0.boxes, labels: $0.labels, ignoredRegions: $0.ignoredRegions)
        }
        // Every point of every image as one row: image-major, then level, then row-major position.
        func rows(_ level: (LevelOutput) -> Tensor, _ width: Int) -> Tensor {
            concatenate(
                outputs.map { output in
                    let t = level(output)
                    return t.permuted([0, 2, 3, 1]).reshaped([batch, output.points.count, width])
                }, axis: 1
            ).reshaped([-1, width])
        }
        let classRows = rows(\.classLogits, classes)
        let labels = assignments.flatMap(\.labels)
        let positives = labels.indices.filter { labels[$0] >= 0 }
        let positiveCount = Float(max(positives.count, 1))
        var classLoss = sigmoidFocalLoss(
            classRows, labels: labels.map { max($0, FCOSAssigner.background) }, alpha: config.focalAlpha,
            gamma: config.focalGamma)
        if labels.contains(FCOSAssigner.ignored) {
            let keep = Tensor(shape: [labels.count, 1], scalars: labels.map { $0 == FCOSAssigner.ignored ? 0 : 1 })
            classLoss = classLoss * keep
        }
        let lossCls = classLoss.sum() / positiveCount
        var terms: [String: Double] = ["loss_cls": Double(lossCls.item()), "num_pos": Double(positives.count)]
        guard !positives.isEmpty else {
            terms["loss_bbox"] = 0
            terms["loss_centerness"] = 0
            return HeadLoss(total: lossCls, terms: terms)
        }
        let distances = assignments.flatMap(\.distances)
        let centerness = assignments.flatMap(\.centerness)
        let wantedDistances = Tensor(
            shape: [positives.count, 4], scalars: positives.flatMap { distances[(4 * $0)..<(4 * $0 + 4)] })
        let wantedCenterness = Tensor(positives.map { centerness[$0] })
        // A box (-l, -t, r, b) around its point: the IoU of two boxes around the same point
        // does not depend on where the point is.
        let signs = Tensor([-1, -1, 1, 1])
        let predicted = rows(\.distances, 4).indexSelect(axis: 0, indices: positives)
        let boxLoss = giouLoss(predicted * signs, wantedDistances * signs)
        let lossBbox = (boxLoss * wantedCenterness).sum() / max(wantedCenterness.sum().item(), 1e-6)
        let predictedCenterness = rows(\.centerness, 1).reshaped([-1]).indexSelect(axis: 0, indices: positives)
        let lossCenterness =
            binaryCrossEntropyWithLogits(predictedCenterness, targets: wantedCenterness).sum() / positiveCount
        terms["loss_bbox"] = Double(lossBbox.item())
        terms["loss_centerness"] = Double(lossCenterness.item())
        return HeadLoss(total: lossCls + lossBbox + lossCenterness, terms: terms)
    }

    func predict(_ features: [FeatureMap], imageSizes: [ImageSize], settings: DetectionSettings) -> [[Detection]] {
        let outputs = withNoGrad { forward(features) }
        let batch = outputs[0].classLogits.shape[0]
        precondition(imageSizes.count == batch, "fcos: \(imageSizes.count) image sizes for a batch of \(batch)")
        let classes = config.numClasses
        return (0..<batch).map { image in
            var candidates: [Detection] = []
            let size = imageSizes[image]
            for output in outputs {
                let grid = output.points
                let n = grid.count
                let logits = output.classLogits.data + image * classes * n
                let centerness = output.centerness.data + image * n
                let distances = output.distances.data + image * 4 * n
                var level: [(score: Float, point: Int, label: Int)] = []
                for p in 0..<n {
                    // A point in the batch padding (outside the image's valid area) predicts nothing.
                    let (px, py) = grid.point(p)
                    guard px < Float(size.width) && py < Float(size.height) else { continue }
                    let quality = sigmoid(centerness[p])
                    for k in 0..<classes {
                        let score = (sigmoid(logits[k * n + p]) * quality).squareRoot()
                        if score > settings.scoreThreshold { level.append((score, p, k)) }
                    }
                }
                if level.count > settings.preNMSTopK {
                    level = Array(
                        level.enumerated().sorted {
                            $0.element.score != $1.element.score
                                ? $0.element.score > $1.element.score : $0.offset < $1.offset
                        }.prefix(settings.preNMSTopK).map(\.element))
                }
                for (score, p, label) in level {
                    let (x, y) = grid.point(p)
                    let box = BoundingBox(
                        x1: x - distances[p], y1: y - distances[n + p], x2: x + distances[2 * n + p],
                        y2: y + distances[3 * n + p]
                    ).clipped(width: Float(size.width), height: Float(size.height))
                    guard box.width > 0, box.height > 0 else { continue }
                    candidates.append(Detection(box: box, score: score, label: label))
                }
            }
            return NonMaximumSuppression.select(
                candidates, iouThreshold: settings.iouThreshold, maxCount: settings.maxPerImage)
        }
    }

    private func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
}
