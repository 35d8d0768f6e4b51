import MixKit

/// Validated parameters of ``FCNMaskHead``, by mmdetection's names
/// (`roi_head.mask_roi_extractor`, `roi_head.mask_head`, `train_cfg.rcnn.mask_size`).
package struct RoIMaskConfig: Sendable {
    package var numClasses: Int
    package var inChannels: Int
    package var numConvs: Int
    package var convOutChannels: Int
    package var extractor: RoIExtractor
    package var maskWeight: Float

    package static let schema: [ParameterSpec] = [
        .int("num_classes", default: 80, range: 1...100_000, doc: "Object classes; the task's dataset overrides it."),
        .int("num_convs", default: 4, range: 0...16, doc: "3x3 convolutions (+ ReLU) before the deconvolution."),
        .int("conv_out_channels", default: 256, range: 1...4096, doc: "Channels of the convolutions."),
        .int("roi_feat_size", default: 14, range: 1...64, doc: "RoIAlign output side; masks are twice this (28)."),
        .int("sampling_ratio", default: 0, range: 0...16, doc: "RoIAlign samples per bin side; 0 = adaptive."),
        .int("num_levels", default: 4, range: 1...8, doc: "Feature levels RoIs are pooled from (the finest)."),
        .float("finest_scale", default: 56, range: 1...4096, doc: "Level mapping: RoIs below 2x this go to level 0."),
        .float("loss_mask_weight", default: 1, range: 0...1000, doc: "Weight of the mask loss (per-pixel BCE)."),
    ]

    package init(_ p: Parameters, context: BuildContext) throws {
        numClasses = context.numClasses ?? p.int("num_classes")
        numConvs = p.int("num_convs")
        convOutChannels = p.int("conv_out_channels")
        extractor = try RoIExtractor(
            levels: p.int("num_levels"), of: context.inputs, outputSize: p.int("roi_feat_size"),
            samplingRatio: p.int("sampling_ratio"), finestScale: Float(p.float("finest_scale")), head: "roi_mask")
        inChannels = context.inputs[0].channels
        maskWeight = Float(p.float("loss_mask_weight"))
    }

    /// The side of the predicted masks: the pooled side, doubled by the deconvolution.
    package var maskSize: Int { 2 * extractor.outputSize }

    package var parameterCount: Double {
        let c = Double(convOutChannels)
        let convs = Double(numConvs) * 9 * c * c
        let last = Double(numConvs > 0 ? convOutChannels : inChannels)
        return convs + last * c * 4 + c * Double(numClasses)
    }
}
