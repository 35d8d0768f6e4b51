import MixKit

/// Validated parameters of ``FCOSHead``, by mmdetection's names.
struct FCOSConfig {
    /// How the regression branch's output becomes distances.
    enum RegressionMode: String, CaseIterable {
        /// `relu(scale * x) * stride` (mmdet's `norm_on_bbox=True`).
        case relu
        /// `exp(scale * x)` in pixels (the original FCOS).
        case exp
    }

    var numClasses: Int
    var featChannels: Int
    var stackedConvs: Int
    var numGroups: Int
    var strides: [Int]
    var regressRanges: [Float]
    var centerSampling: Bool
    var centerSampleRadius: Float
    var regressionMode: RegressionMode
    var centernessOnReg: Bool
    var focalAlpha: Float
    var focalGamma: Float
    var priorProb: Float
    var inChannels: Int

    static let schema: [ParameterSpec] = [
        .int("num_classes", default: 80, range: 1...100_000, doc: "Object classes; the task's dataset overrides it."),
        .int("feat_channels", default: 256, range: 1...4096, doc: "Channels of the classification and box towers."),
        .int("stacked_convs", default: 4, range: 0...16, doc: "3x3 conv + norm + ReLU layers in each tower."),
        .int(
            "num_groups", default: 32, range: 0...4096,
            doc: "GroupNorm groups in the towers (must divide feat_channels); 0 = no normalisation."),
        .floatList(
            "regress_ranges", default: [64, 128, 256, 512], range: 0...1e8,
            doc:
                "Boundaries of the box sizes (largest distance from a point to a side, pixels) each level regresses: "
                + "one fewer than the levels; FCOS's (-1, 64), (64, 128), ..., (512, inf). Scale with the image size."),
        .bool(
            "center_sampling", default: true,
            doc: "Only points near a box's centre (within stride * center_sample_radius) are positives."),
        .float("center_sample_radius", default: 1.5, range: 0...100, doc: "Centre-sampling radius in strides."),
        .string(
            "reg_mode", default: "relu", allowed: RegressionMode.allCases.map(\.rawValue),
            doc: "Distances as relu(scale * x) * stride (norm_on_bbox) or exp(scale * x)."),
        .bool(
            "centerness_on_reg", default: true, doc: "Predict centre-ness from the box tower (else the class tower)."),
        .float("focal_alpha", default: 0.25, range: 0...1, doc: "Focal loss alpha."),
        .float("focal_gamma", default: 2, range: 0...10, doc: "Focal loss gamma."),
        .float(
            "prior_prob", default: 0.01, range: 1e-6...0.5,
            doc: "Initial foreground probability: the classifier's bias is -log((1 - p) / p)."),
    ]

    init(_ p: Parameters, context: BuildContext) throws {
        numClasses = context.numClasses ?? p.int("num_classes")
        featChannels = p.int("feat_channels")
        stackedConvs = p.int("stacked_convs")
        numGroups = p.int("num_groups")
        regressRanges = p.floatList("regress_ranges").map { Float($0) }
        centerSampling = p.bool("center_sampling")
        centerSampleRadius = Float(p.float("center_sample_radius"))
        regressionMode = RegressionMode(rawValue: p.string("reg_mode"))!
        centernessOnReg = p.bool("centerness_on_reg")
        focalAlpha = Float(p.float("focal_alpha"))
        focalGamma = Float(p.float("focal_gamma"))
        priorProb = Float(p.float("prior_prob"))
        strides = context.inputs.map(\.stride)
        guard let first = context.inputs.first else {
            throw ComponentConfigurationError(
                parameter: "head", problem: "fcos needs feature maps (put an fpn neck before it)")
        }
        inChannels = first.channels
        guard context.inputs.allSatisfy({ $0.channels == inChannels }) else {
            throw ComponentConfigurationError(
                parameter: "head",
                problem:
                    "fcos shares its towers across levels, so every input needs the same channels; got \(context.inputs.map(\.channels)) (use an fpn neck)"
            )
        }
        guard regressRanges.count == strides.count - 1 else {
            throw ComponentConfigurationError(
                parameter: "regress_ranges",
                problem:
                    "\(regressRanges.count) boundaries for \(strides.count) levels (strides \(strides)): give \(strides.count - 1)"
            )
        }
        guard zip(regressRanges, regressRanges.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ComponentConfigurationError(
                parameter: "regress_ranges", problem: "\(regressRanges) must increase")
        }
        if numGroups > 0 && featChannels % numGroups != 0 {
            throw ComponentConfigurationError(
                parameter: "num_groups", problem: "\(numGroups) groups do not divide feat_channels \(featChannels)")
        }
    }

    var assigner: FCOSAssigner {
        FCOSAssigner(
            ranges: FCOSAssigner.ranges(boundaries: regressRanges), centerSampling: centerSampling,
            centerSampleRadius: centerSampleRadius)
    }
}
