import MixKit

/// Validated parameters of ``RPNHead``, by mmdetection's names (`rpn_head`,
/// `train_cfg.rpn`, `train_cfg.rpn_proposal`, `test_cfg.rpn` of
/// `configs/_base_/models/mask-rcnn_r50_fpn.py`).
package struct RPNConfig: Sendable {
    package var inChannels: Int
    package var featChannels: Int
    package var anchors: AnchorGenerator
    package var assigner: MaxIoUAssigner
    package var sampler: RandomSampler
    package var train: ProposalSettings
    package var test: ProposalSettings
    package var clsWeight: Float
    package var bboxWeight: Float

    /// How proposals are selected (`nms_pre`, `nms.iou_threshold`, `max_per_img`).
    package struct ProposalSettings: Sendable, Equatable {
        package var preNMS: Int
        package var iouThreshold: Float
        package var maxPerImage: Int

        package init(preNMS: Int, iouThreshold: Float, maxPerImage: Int) {
            self.preNMS = preNMS
            self.iouThreshold = iouThreshold
            self.maxPerImage = maxPerImage
        }
    }

    package static let schema: [ParameterSpec] = [
        .int("feat_channels", default: 256, range: 1...4096, doc: "Channels of the shared 3x3 convolution."),
        .floatList("anchor_scales", default: [8], range: 1e-3...1e4, doc: "Anchor sizes in strides (one per cell)."),
        .floatList(
            "anchor_ratios", default: [0.5, 1, 2], range: 1e-3...1e3,
            doc: "Anchor aspect ratios (height / width) per cell."),
        .float("pos_iou_thr", default: 0.7, range: 0...1, doc: "Assigner: anchors at or above this IoU are positive."),
        .float("neg_iou_thr", default: 0.3, range: 0...1, doc: "Assigner: anchors below this IoU are negative."),
        .float(
            "min_pos_iou", default: 0.3, range: 0...1,
            doc: "Assigner: a truth box's best anchor is positive at or above this IoU (low-quality matches)."),
        .int("num_samples", default: 256, range: 1...1_000_000, doc: "Sampler: anchors trained per image."),
        .float("pos_fraction", default: 0.5, range: 0...1, doc: "Sampler: at most this fraction positive."),
        .int(
            "train_nms_pre", default: 2000, range: 1...1_000_000, doc: "Training proposals: top-k per level before NMS."
        ),
        .int("train_max_per_img", default: 1000, range: 1...1_000_000, doc: "Training proposals kept per image."),
        .int(
            "test_nms_pre", default: 1000, range: 1...1_000_000, doc: "Inference proposals: top-k per level before NMS."
        ),
        .int("test_max_per_img", default: 1000, range: 1...1_000_000, doc: "Inference proposals kept per image."),
        .float("nms_iou", default: 0.7, range: 0...1, doc: "IoU threshold of the proposals' NMS (per level)."),
        .float("loss_cls_weight", default: 1, range: 0...1000, doc: "Weight of the objectness loss (sigmoid BCE)."),
        .float("loss_bbox_weight", default: 1, range: 0...1000, doc: "Weight of the box loss (L1 on deltas)."),
    ]

    package init(_ p: Parameters, context: BuildContext) throws {
        guard let first = context.inputs.first else {
            throw ComponentConfigurationError(
                parameter: "rpn", problem: "rpn needs feature maps (put an fpn neck before it)")
        }
        guard context.inputs.allSatisfy({ $0.channels == first.channels }) else {
            throw ComponentConfigurationError(
                parameter: "rpn",
                problem: "rpn shares its convolutions across levels, so every input needs the same channels; got "
                    + "\(context.inputs.map(\.channels)) (use an fpn neck)")
        }
        inChannels = first.channels
        featChannels = p.int("feat_channels")
        let scales = p.floatList("anchor_scales").map { Float($0) }
        let ratios = p.floatList("anchor_ratios").map { Float($0) }
        guard !scales.isEmpty, !ratios.isEmpty else {
            throw ComponentConfigurationError(
                parameter: scales.isEmpty ? "anchor_scales" : "anchor_ratios",
                problem: "the list is empty: give at least one value (the field uses scales [8], ratios [0.5, 1, 2])")
        }
        anchors = AnchorGenerator(strides: context.inputs.map(\.stride), ratios: ratios, scales: scales)
        let positive = Float(p.float("pos_iou_thr"))
        let negative = Float(p.float("neg_iou_thr"))
        guard negative <= positive else {
            throw ComponentConfigurationError(
                parameter: "neg_iou_thr", problem: "\(negative) is above pos_iou_thr \(positive)")
        }
        assigner = MaxIoUAssigner(
            positiveIoU: positive, negativeIoU: negative, minPositiveIoU: Float(p.float("min_pos_iou")))
        sampler = RandomSampler(
            count: p.int("num_samples"), positiveFraction: p.float("pos_fraction"), addTruthAsProposals: false)
        let iou = Float(p.float("nms_iou"))
        train = ProposalSettings(
            preNMS: p.int("train_nms_pre"), iouThreshold: iou, maxPerImage: p.int("train_max_per_img"))
        test = ProposalSettings(
            preNMS: p.int("test_nms_pre"), iouThreshold: iou, maxPerImage: p.int("test_max_per_img"))
        clsWeight = Float(p.float("loss_cls_weight"))
        bboxWeight = Float(p.float("loss_bbox_weight"))
    }

    /// Weights of the head: the 3x3 convolution and the two 1x1 outputs.
    package var parameterCount: Double {
        let a = Double(anchors.anchorsPerCell)
        let c = Double(featChannels)
        return Double(inChannels) * c * 9 + c + c * a * 5 + a * 5
    }
}
