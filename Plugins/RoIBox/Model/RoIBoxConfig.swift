import MixKit

/// Validated parameters of ``SharedFCBoxHead``, by mmdetection's names
/// (`roi_head.bbox_roi_extractor`, `roi_head.bbox_head`, `train_cfg.rcnn`).
package struct RoIBoxConfig: Sendable {
    package var numClasses: Int
    package var inChannels: Int
    package var fcOutChannels: Int
    package var extractor: RoIExtractor
    package var assigner: MaxIoUAssigner
    package var sampler: RandomSampler
    package var clsWeight: Float
    package var bboxWeight: Float

    package static let schema: [ParameterSpec] = [
        .int("num_classes", default: 80, range: 1...100_000, doc: "Object classes; the task's dataset overrides it."),
        .int(
            "fc_out_channels", default: 1024, range: 1...65536, doc: "Width of the two shared fully connected layers."),
        .int("roi_feat_size", default: 7, range: 1...64, doc: "RoIAlign output side."),
        .int("sampling_ratio", default: 0, range: 0...16, doc: "RoIAlign samples per bin side; 0 = adaptive."),
        .int(
            "num_levels", default: 4, range: 1...8,
            doc: "Feature levels RoIs are pooled from (the finest; the field uses P2-P5 of five)."),
        .float("finest_scale", default: 56, range: 1...4096, doc: "Level mapping: RoIs below 2x this go to level 0."),
        .float(
            "pos_iou_thr", default: 0.5, range: 0...1, doc: "Assigner: proposals at or above this IoU are positive."),
        .float("neg_iou_thr", default: 0.5, range: 0...1, doc: "Assigner: proposals below this IoU are negative."),
        .float("min_pos_iou", default: 0.5, range: 0...1, doc: "Assigner: low-quality match threshold."),
        .int("num_samples", default: 512, range: 1...1_000_000, doc: "Sampler: RoIs trained per image."),
        .float("pos_fraction", default: 0.25, range: 0...1, doc: "Sampler: at most this fraction positive."),
        .float("loss_cls_weight", default: 1, range: 0...1000, doc: "Weight of the classification loss (softmax CE)."),
        .float("loss_bbox_weight", default: 1, range: 0...1000, doc: "Weight of the box loss (L1 on deltas)."),
    ]

    package init(_ p: Parameters, context: BuildContext) throws {
        numClasses = context.numClasses ?? p.int("num_classes")
        fcOutChannels = p.int("fc_out_channels")
        extractor = try RoIExtractor(
            levels: p.int("num_levels"), of: context.inputs, outputSize: p.int("roi_feat_size"),
            samplingRatio: p.int("sampling_ratio"), finestScale: Float(p.float("finest_scale")), head: "roi_box")
        inChannels = context.inputs[0].channels
        let positive = Float(p.float("pos_iou_thr"))
        let negative = Float(p.float("neg_iou_thr"))
        guard negative <= positive else {
            throw ComponentConfigurationError(
                parameter: "neg_iou_thr", problem: "\(negative) is above pos_iou_thr \(positive)")
        }
        assigner = MaxIoUAssigner(
            positiveIoU: positive, negativeIoU: negative, minPositiveIoU: Float(p.float("min_pos_iou")))
        sampler = RandomSampler(
            count: p.int("num_samples"), positiveFraction: p.float("pos_fraction"), addTruthAsProposals: true)
        clsWeight = Float(p.float("loss_cls_weight"))
        bboxWeight = Float(p.float("loss_bbox_weight"))
    }

    /// Weights of the two shared layers and the two outputs.
    package var parameterCount: Double {
        let pooled = Double(inChannels * extractor.outputSize * extractor.outputSize)
        let fc = Double(fcOutChannels)
        let k = Double(numClasses)
        return pooled * fc + fc * fc + fc * (k + 1) + fc * 4 * k
    }
}
