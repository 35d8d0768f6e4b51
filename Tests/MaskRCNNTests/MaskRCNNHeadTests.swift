import Foundation
import MixKit
import MixKitTesting
import MixRPNModel
import MixRoIBoxModel
import MixRoIMaskModel
import Testing

/// Mask R-CNN's three plugins (their own code, linked directly): gradients of
/// every differentiable piece by finite differences, the assignment and
/// sampling on hand-made boxes, proposals, inference and mask targets.
@Suite struct MaskRCNNHeadTests {
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
        BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    func features(_ specs: [FeatureSpec], size: Int, batch: Int = 2, seed: UInt64 = 3) -> [FeatureMap] {
        var rng = RandomGenerator(seed: seed)
        return FeatureMap.probe(specs, imageSize: size, batch: batch, using: &rng)
    }

    static let pyramid = [4, 8, 16, 32, 64].map { FeatureSpec(stride: $0, channels: 4) }

    /// Redraws every weight of `module` from N(0, std): the heads' own initial weights
    /// (N(0, 0.01) and the like) make derivatives too small for a float32 check.
    func reinitialise(_ module: Module, std: Float = 0.4, seed: UInt64 = 21) {
        let rng = RandomSource(seed: seed)
        for (_, weight) in module.namedParameters() { Init.normal(weight, std: std, using: rng) }
    }

    func rpn(_ values: [String: ParameterValue] = [:], rng: RandomSource = RandomSource(seed: 0)) throws -> RPNHead {
        var params = Parameters(defaultsOf: RPNConfig.schema)
        params["feat_channels"] = .int(4)
        for (key, value) in values { params[key] = value }
        return RPNHead(try RPNConfig(params, context: BuildContext(inputs: Self.pyramid, imageSize: 64)), rng: rng)
    }

    func boxHead(classes: Int = 3, rng: RandomSource = RandomSource(seed: 0)) throws -> SharedFCBoxHead {
        var params = Parameters(defaultsOf: RoIBoxConfig.schema)
        params["fc_out_channels"] = .int(8)
        params["roi_feat_size"] = .int(3)
        let context = BuildContext(inputs: Self.pyramid, imageSize: 64, numClasses: classes)
        return SharedFCBoxHead(try RoIBoxConfig(params, context: context), rng: rng)
    }

    func maskHead(classes: Int = 3, convs: Int = 1) throws -> FCNMaskHead {
        var params = Parameters(defaultsOf: RoIMaskConfig.schema)
        params["conv_out_channels"] = .int(4)
        params["num_convs"] = .int(convs)
        params["roi_feat_size"] = .int(4)
        let context = BuildContext(inputs: Self.pyramid, imageSize: 64, numClasses: classes)
        return FCNMaskHead(try RoIMaskConfig(params, context: context), rng: RandomSource(seed: 0))
    }

    // MARK: transposed convolution

    @Test func transposedConvolutionPaintsEachPixelsBlock() {
        let up = TransposedConvolution(2, 3, factor: 2, rng: RandomSource(seed: 1))
        var rng = RandomGenerator(seed: 2)
        let x = Tensor.randomNormal([2, 2, 3, 4], using: &rng)
        let y = up(x)
        #expect(y.shape == [2, 3, 6, 8])
        let (w, b, xs, ys) = (up.weight.scalars, up.bias.scalars, x.scalars, y.scalars)
        var worst: Float = 0
        for n in 0..<2 {
            for o in 0..<3 {
                for r in 0..<6 {
                    for c in 0..<8 {
                        var want = b[o]
                        for i in 0..<2 {
                            want += xs[((n * 2 + i) * 3 + r / 2) * 4 + c / 2] * w[((i * 3 + o) * 2 + r % 2) * 2 + c % 2]
                        }
                        worst = max(worst, abs(ys[((n * 3 + o) * 6 + r) * 8 + c] - want))
                    }
                }
            }
        }
        #expect(worst < 1e-5)
    }

    @Test func transposedConvolutionGradients() {
        let up = TransposedConvolution(3, 2, factor: 2, rng: RandomSource(seed: 1))
        var rng = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([2, 3, 2, 3], using: &rng)
        let report = GradientCheck().check([("x", x), ("weight", up.weight), ("bias", up.bias)]) { up(x) }
        #expect(report.passed, "\(report)")
    }

    // MARK: rpn

    @Test func rpnOutputsFollowMMDetectionsAnchorOrder() throws {
        let head = try rpn()
        let maps = features(Self.pyramid, size: 64)
        let out = head.forward(maps)
        // 16x16 + 8x8 + 4x4 + 2x2 + 1x1 cells, 3 anchors each.
        let n = (256 + 64 + 16 + 4 + 1) * 3
        #expect(out.anchorCount == n)
        #expect(out.objectness.shape == [2 * n] && out.deltas.shape == [2 * n, 4])
        #expect(out.anchors[0] == AnchorGenerator.maskRCNN.anchors(level: 0, height: 16, width: 16)[0])
        #expect(out.levels[768] == 1 && out.levels[767] == 0)
        let names = Set(head.namedParameters().map(\.0))
        #expect(
            names == [
                "rpn_conv.weight", "rpn_conv.bias", "rpn_cls.weight", "rpn_cls.bias", "rpn_reg.weight", "rpn_reg.bias",
            ])
    }

    @Test func rpnAssignsTheAnchorEqualToATruthBoxAndSamplesWithinQuota() throws {
        let head = try rpn(["num_samples": .int(16)])
        let maps = features(Self.pyramid, size: 64)
        let out = head.forward(maps)
        // The level-1 anchor of ratio 1 at cell (2, 3): stride 8, size 64, centred at (24, 16).
        let anchor = AnchorGenerator.maskRCNN.anchors(level: 1, height: 8, width: 8)[(2 * 8 + 3) * 3 + 1]
        #expect(anchor == box(-8, -16, 56, 48))
        let full = ImageSize(height: 64, width: 64)
        let shape = DetectionImageShape(size: full, paddedSize: full)
        let valid = head.validAnchors(out, paddedSize: full)
        #expect(valid.count == out.anchorCount)
        let half = head.validAnchors(out, paddedSize: ImageSize(height: 32, width: 64))
        #expect(half.count < valid.count && half.allSatisfy { out.levels[$0] > 0 || $0 / 3 / 16 < 8 })
        let target = DetectionTarget(boxes: [anchor], labels: [2])
        let (loss, proposals) = head.loss(maps, targets: [target, target], images: [shape, shape])
        let positives = try #require(loss.terms["rpn_num_pos"])
        #expect(positives >= 2 && positives <= 16, "at most half of 2 x 16 samples")
        #expect(loss.total.item().isFinite && loss.total.item() > 0)
        #expect(proposals.count == 2 && proposals.allSatisfy { $0.count <= 1000 && !$0.isEmpty })
    }

    @Test func proposalsAreTopKPerLevelThenNMSWithinLevels() throws {
        // Two levels (strides 4 and 8) of a 16x16 image: 4x4 and 2x2 cells, 3 anchors each.
        var params = Parameters(defaultsOf: RPNConfig.schema)
        params["feat_channels"] = .int(4)
        params["test_nms_pre"] = .int(2)
        params["test_max_per_img"] = .int(3)
        let levels = Array(Self.pyramid.prefix(2))
        let head = RPNHead(
            try RPNConfig(params, context: BuildContext(inputs: levels, imageSize: 16)), rng: RandomSource(seed: 0))
        var out = head.forward(features(levels, size: 16, batch: 1))
        let n = out.anchorCount
        #expect(n == (16 + 4) * 3)
        // Level 0: anchors 0 and 3 score highest (ratio 0.5 at cells (0, 0) and (0, 1): both clip
        // to [0, 0, 16, 11.3], IoU 1), 5 third; level 1: 49 and 50 (ratios 1 and 2 at cell (0, 0),
        // both clip to the whole image). Deltas zero: proposals are the clipped anchors.
        var logits = [Float](repeating: -5, count: n)
        logits[0] = 3
        logits[3] = 2.9
        logits[5] = 1
        logits[49] = 2
        logits[50] = 1.5
        out.objectness = Tensor(logits)
        out.deltas = Tensor.zeros([n, 4])
        let full = ImageSize(height: 16, width: 16)
        let found = head.select(
            out, images: [DetectionImageShape(size: full, paddedSize: full)], settings: head.config.test)[0]
        // Top 2 per level (5 is dropped before NMS), NMS within each level drops 3 and 50.
        let want = [out.anchors[0], out.anchors[49]].map { $0.clipped(width: 16, height: 16) }
        #expect(found.count == want.count)
        for (a, b) in zip(found, want) {
            #expect(
                abs(a.x1 - b.x1) < 1e-4 && abs(a.y1 - b.y1) < 1e-4 && abs(a.x2 - b.x2) < 1e-4 && abs(a.y2 - b.y2) < 1e-4
            )
        }
        // Without NMS (threshold 1), level 0 gives 0 and 3, level 1 gives 49 (50 is fourth).
        var loose = head.config.test
        loose.iouThreshold = 1
        let all = head.select(out, images: [DetectionImageShape(size: full, paddedSize: full)], settings: loose)[0]
        #expect(all.count == 3)
    }

    @Test func rpnLossGradients() throws {
        let source = RandomSource(seed: 5)
        let head = try rpn(rng: source)
        reinitialise(head)
        let maps = features(Self.pyramid, size: 32)
        let full = ImageSize(height: 32, width: 32)
        let shape = DetectionImageShape(size: full, paddedSize: full)
        let targets = [
            DetectionTarget(boxes: [box(2, 2, 20, 14)], labels: [0]),
            DetectionTarget(boxes: [box(8, 4, 30, 30), box(0, 16, 10, 31)], labels: [0, 1]),
        ]
        let state = source.state
        let inputs = [("p2", maps[0].tensor), ("p4", maps[2].tensor)] + head.namedParameters()
        let report = GradientCheck(samplesPerInput: 24).check(inputs) {
            _ = source.restore(state)
            return head.loss(maps, targets: targets, images: [shape, shape]).loss.total
        }
        #expect(report.passed, "\(report)")
    }

    // MARK: roi-box

    @Test func boxHeadSamplesTruthAndProposalsByIoU() throws {
        let head = try boxHead()
        let maps = features(Self.pyramid, size: 64, batch: 1)
        let truth = [box(4, 4, 36, 36), box(40, 10, 60, 50)]
        // IoUs with truth 0: 1 (a copy), 0.78 (shifted 4 px), 0; the last has 0.9 with truth 1.
        let proposals = [[box(4, 4, 36, 36), box(8, 4, 40, 36), box(0, 44, 20, 64), box(40, 14, 60, 50)]]
        let target = DetectionTarget(boxes: truth, labels: [2, 1])
        let (loss, samples) = head.loss(maps, proposals: proposals, targets: [target])
        let sample = try #require(samples.first)
        // Truth boxes join the priors first: priors = truth + proposals.
        #expect(sample.priors.count == 6 && Array(sample.priors.prefix(2)) == truth)
        #expect(sample.positiveIndices == [0, 1, 2, 3, 5])
        #expect(sample.negativeIndices == [4])
        #expect(sample.positiveLabels == [2, 1, 2, 2, 1])
        #expect(sample.positiveTruthIndices == [0, 1, 0, 0, 1])
        #expect(loss.terms["roi_num_pos"] == 5)
        #expect(loss.total.item().isFinite)
    }

    @Test func boxHeadSamplerKeepsAQuarterPositive() throws {
        let source = RandomSource(seed: 9)
        var params = Parameters(defaultsOf: RoIBoxConfig.schema)
        params["fc_out_channels"] = .int(8)
        params["roi_feat_size"] = .int(2)
        params["num_samples"] = .int(8)
        let context = BuildContext(inputs: Self.pyramid, imageSize: 64, numClasses: 2)
        let head = SharedFCBoxHead(try RoIBoxConfig(params, context: context), rng: source)
        let maps = features(Self.pyramid, size: 64, batch: 1)
        let truth = box(10, 10, 40, 40)
        // Ten near-copies (positives) and ten far boxes (negatives).
        let near = (0..<10).map { box(10 + Float($0) * 0.1, 10, 40, 40) }
        let far = (0..<10).map { box(50, Float($0), 60, Float($0) + 10) }
        let (_, samples) = head.loss(
            maps, proposals: [near + far], targets: [DetectionTarget(boxes: [truth], labels: [1])])
        #expect(samples[0].positiveIndices.count == 2)
        #expect(samples[0].negativeIndices.count == 6)
        #expect(samples[0].negativeIndices.allSatisfy { $0 >= 11 })
    }

    @Test func boxHeadLossGradients() throws {
        let source = RandomSource(seed: 5)
        let head = try boxHead(rng: source)
        reinitialise(head)
        let maps = features(Self.pyramid, size: 64)
        let (_, proposals, targets) = RoIProbe.inputs(BuildContext(inputs: Self.pyramid, imageSize: 64, numClasses: 3))
        let state = source.state
        // Every RoI is below 112 px, so pooled from P2 only: only P2 gets a gradient.
        let inputs = [("p2", maps[0].tensor)] + head.namedParameters()
        let report = GradientCheck(samplesPerInput: 24).check(inputs) {
            _ = source.restore(state)
            return head.loss(maps, proposals: proposals, targets: targets).loss.total
        }
        #expect(report.passed, "\(report)")
    }

    @Test func boxHeadPredictsClassSpecificBoxesAboveTheThreshold() throws {
        let head = try boxHead(classes: 2)
        // Scores from the bias alone: background 0, class 0 at 2, class 1 at -10; class 0's
        // deltas move a box by dx = 0.1 * 1 of its width.
        for fc in [head.fcCls, head.fcReg] { fc.weight.fill(0) }
        head.fcCls.bias!.assign(Tensor([2, -10, 0]))
        head.fcReg.bias!.assign(Tensor([1, 0, 0, 0, 0, 0, 0, 0]))
        let maps = features(Self.pyramid, size: 64, batch: 1)
        let proposals = [[box(0, 0, 20, 20), box(30, 30, 50, 60)]]
        let shape = DetectionImageShape(
            size: ImageSize(height: 64, width: 64), paddedSize: ImageSize(height: 64, width: 64))
        let found = head.predict(
            maps, proposals: proposals, images: [shape], settings: DetectionSettings(scoreThreshold: 0.05))[0]
        let p0 = expf(2) / (expf(2) + expf(-10) + 1)
        #expect(found.count == 2)
        #expect(found.allSatisfy { $0.label == 0 && abs($0.score - p0) < 1e-6 })
        #expect(abs(found[0].box.x1 - 2) < 1e-4 && abs(found[0].box.x2 - 22) < 1e-4)
        #expect(abs(found[1].box.x1 - 32) < 1e-4 && abs(found[1].box.y2 - 60) < 1e-4)
        let none = head.predict(
            maps, proposals: proposals, images: [shape], settings: DetectionSettings(scoreThreshold: 0.95))
        #expect(none[0].isEmpty)
    }

    // MARK: roi-mask

    @Test func maskTargetsAreCroppedAndResizedTruth() {
        // A 16x16 image with one mask: the left half of the rectangle 4..<12 x 4..<12.
        var bitmap = [UInt8](repeating: 0, count: 256)
        for y in 4..<12 { for x in 4..<8 { bitmap[y * 16 + x] = 1 } }
        let masks = InstanceMasks(height: 16, width: 16, bitmaps: [bitmap])
        let targets = masks.cropAndResize(indices: [0, 0], boxes: [box(4, 4, 12, 12), box(4, 4, 8, 12)], size: 4)
        #expect(targets.shape == [2, 4, 4])
        let values = targets.scalars
        // The first RoI covers the rectangle: its left half columns are 1.
        #expect(Array(values[0..<4]) == [1, 1, 0, 0])
        // The second is the mask's own extent: all ones.
        #expect(values[16..<32].allSatisfy { $0 == 1 })
    }

    @Test func pastedMasksCoverExactlyTheirBox() {
        let ones = [Float](repeating: 1, count: 28 * 28)
        let bitmap = MaskPasting.paste(ones, side: 28, box: box(10, 5, 20, 25), height: 32, width: 32)
        for y in 0..<32 {
            for x in 0..<32 {
                let inside = (10..<20).contains(x) && (5..<25).contains(y)
                #expect(bitmap[y * 32 + x] == (inside ? 1 : 0), "pixel (\(x), \(y))")
            }
        }
        let none = MaskPasting.paste(
            [Float](repeating: 0.49, count: 28 * 28), side: 28, box: box(1, 1, 9, 9), height: 10, width: 10)
        #expect(none.allSatisfy { $0 == 0 })
    }

    @Test func maskHeadShapesAndNames() throws {
        let head = try maskHead(convs: 2)
        #expect(head.maskSize == 8)
        let names = Dictionary(uniqueKeysWithValues: head.namedParameters().map { ($0.0, $0.1.shape) })
        #expect(names["convs.0.conv.weight"] == [4, 4, 3, 3])
        #expect(names["upsample.weight"] == [4, 4, 2, 2])
        #expect(names["conv_logits.weight"] == [3, 4, 1, 1])
        let maps = features(Self.pyramid, size: 64, batch: 2)
        let detections = [
            [Detection(box: box(0, 0, 30, 30), score: 0.9, label: 2)],
            [
                Detection(box: box(5, 5, 20, 40), score: 0.8, label: 0),
                Detection(box: box(1, 1, 9, 9), score: 0.5, label: 1),
            ],
        ]
        let masks = head.predict(maps, detections: detections)
        #expect(masks.map(\.count) == [1, 2])
        #expect(masks.joined().allSatisfy { $0.count == 64 && $0.allSatisfy { (0...1).contains($0) } })
    }

    @Test func maskHeadLossGradients() throws {
        let head = try maskHead()
        reinitialise(head)
        let context = BuildContext(inputs: Self.pyramid, imageSize: 64, numClasses: 3)
        let (maps, samples, masks) = MaskProbe.inputs(context)
        #expect(samples.reduce(0) { $0 + $1.positiveIndices.count } > 0)
        // Every RoI is below 112 px, so pooled from P2 only: only P2 gets a gradient.
        let inputs = [("p2", maps[0].tensor)] + head.namedParameters()
        let report = GradientCheck(samplesPerInput: 48).check(inputs) {
            head.loss(maps, samples: samples, masks: masks).total
        }
        #expect(report.passed, "\(report)")
    }

    @Test func maskLossIsBCEOfTheOwnClassAgainstCroppedTargets() throws {
        let head = try maskHead()
        let context = BuildContext(inputs: Self.pyramid, imageSize: 64, numClasses: 3)
        let (maps, samples, masks) = MaskProbe.inputs(context)
        let loss = head.loss(maps, samples: samples, masks: masks).total.item()
        // Recompute: logits of every positive's class, BCE against its cropped truth, mean.
        let rois = RoIAlign.rois(samples.map(\.positivePriors))
        let logits = head.forward(maps, rois: rois)
        let labels = samples.flatMap(\.positiveLabels)
        var wanted: [Float] = []
        for (sample, masks) in zip(samples, masks) where !sample.positiveIndices.isEmpty {
            wanted +=
                masks.cropAndResize(
                    indices: sample.positiveTruthIndices, boxes: sample.positivePriors, size: 8
                ).scalars
        }
        let values = logits.scalars
        var total = 0.0
        for (k, label) in labels.enumerated() {
            for i in 0..<64 {
                let x = Double(values[(k * 3 + label) * 64 + i])
                let t = Double(wanted[k * 64 + i])
                total += max(x, 0) - x * t + log(1 + exp(-abs(x)))
            }
        }
        #expect(abs(Double(loss) - total / Double(labels.count * 64)) < 1e-5)
    }
}
