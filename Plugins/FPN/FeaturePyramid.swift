import MixKit

/// Validated parameters of ``FeaturePyramid``, by mmdetection's names.
struct FPNConfig {
    /// How extra (coarser) levels are made when `num_outs` exceeds the used inputs.
    enum ExtraSource: String, CaseIterable {
        /// Max-pool (kernel 1, stride 2) of the last output: no parameters.
        case none
        /// Stride-2 3x3 convolutions from the last used backbone map.
        case onInput = "on_input"
        /// ... from the last lateral.
        case onLateral = "on_lateral"
        /// ... from the last output (RetinaNet, FCOS).
        case onOutput = "on_output"
    }

    var outChannels: Int
    var numOuts: Int
    var startLevel: Int
    var extraSource: ExtraSource
    var reluBeforeExtraConvs: Bool
    var upsample: InterpolationMode

    static let schema: [ParameterSpec] = [
        .int("out_channels", default: 256, range: 1...4096, doc: "Channels of every output level."),
        .int(
            "num_outs", default: 5, range: 1...8,
            doc: "Output levels: the used inputs from start_level on, then extra levels at twice the stride each."),
        .int(
            "start_level", default: 1, range: 0...7,
            doc: "First input map used (1 skips the stride-4 map, as FCOS and RetinaNet do)."),
        .string(
            "add_extra_convs", default: "on_output", allowed: ExtraSource.allCases.map(\.rawValue),
            doc:
                "Extra levels by stride-2 3x3 convolutions on the last output, lateral or input; none = max-pool (stride 2)."
        ),
        .bool(
            "relu_before_extra_convs", default: true, doc: "Apply ReLU before every extra convolution but the first."),
        .string(
            "upsample", default: "nearest", allowed: InterpolationMode.allCases.map(\.rawValue),
            doc: "Top-down upsampling of coarser laterals (align_corners false for bilinear)."),
    ]

    init(_ p: Parameters, inputs: [FeatureSpec]) throws {
        outChannels = p.int("out_channels")
        numOuts = p.int("num_outs")
        startLevel = p.int("start_level")
        extraSource = ExtraSource(rawValue: p.string("add_extra_convs"))!
        reluBeforeExtraConvs = p.bool("relu_before_extra_convs")
        upsample = InterpolationMode(rawValue: p.string("upsample"))!
        guard !inputs.isEmpty else {
            throw ComponentConfigurationError(
                parameter: "neck", problem: "needs the backbone's feature maps; the backbone declares none")
        }
        guard startLevel < inputs.count else {
            throw ComponentConfigurationError(
                parameter: "start_level",
                problem: "\(startLevel) but the backbone emits \(inputs.count) maps (levels 0..<\(inputs.count))")
        }
        guard numOuts >= inputs.count - startLevel else {
            throw ComponentConfigurationError(
                parameter: "num_outs",
                problem:
                    "\(numOuts) is fewer than the \(inputs.count - startLevel) maps used from start_level \(startLevel); raise num_outs or start_level"
            )
        }
        for (a, b) in zip(inputs, inputs.dropFirst()) where b.stride <= a.stride {
            throw ComponentConfigurationError(
                parameter: "neck", problem: "input strides must increase, got \(inputs.map(\.stride))")
        }
    }
}

/// Feature pyramid network (Lin et al. 2017, as mmdetection's `FPN`): 1x1
/// lateral convolutions, top-down upsampling and addition, 3x3 output
/// convolutions, and optional extra levels (P6/P7) for one-stage detectors.
/// Tensor names follow mmdetection (`lateral_convs.0.conv.weight`,
/// `fpn_convs.3.conv.weight`, extra convolutions after the output ones).
final class FeaturePyramid: Module, Neck {
    let lateralConvs: [ConvModule]
    let fpnConvs: [ConvModule]
    let config: FPNConfig
    let inputSpecs: [FeatureSpec]
    let outputs: [FeatureSpec]

    init(_ config: FPNConfig, inputs: [FeatureSpec], rng: RandomSource) {
        self.config = config
        inputSpecs = inputs
        let used = Array(inputs[config.startLevel...])
        lateralConvs = used.map {
            ConvModule($0.channels, config.outChannels, kernelSize: 1, activation: false, rng: rng)
        }
        var convs = used.map { _ in
            ConvModule(config.outChannels, config.outChannels, kernelSize: 3, padding: 1, activation: false, rng: rng)
        }
        var specs = used.map { FeatureSpec(stride: $0.stride, channels: config.outChannels) }
        for extra in 0..<(config.numOuts - used.count) {
            if config.extraSource != .none {
                let channels = extra == 0 && config.extraSource == .onInput ? used.last!.channels : config.outChannels
                convs.append(
                    ConvModule(
                        channels, config.outChannels, kernelSize: 3, stride: 2, padding: 1, activation: false,
                        rng: rng))
            }
            specs.append(FeatureSpec(stride: specs.last!.stride * 2, channels: config.outChannels))
        }
        fpnConvs = convs
        outputs = specs
        super.init()
        // mmdetection's FPN init: Xavier-uniform convolutions, zero biases.
        for conv in lateralConvs + fpnConvs {
            Init.xavierUniform(conv.conv.weight, using: rng)
            if let bias = conv.conv.bias { Init.constant(bias, 0) }
        }
    }

    func callAsFunction(_ features: [FeatureMap]) -> [FeatureMap] {
        precondition(
            features.count == inputSpecs.count,
            "fpn: built for \(inputSpecs.count) feature maps, got \(features.count)")
        let inputs = features[config.startLevel...].map { $0.nchw() }
        var laterals = zip(lateralConvs, inputs).map { conv, x in conv(x) }
        for i in stride(from: laterals.count - 1, to: 0, by: -1) {
            let target = laterals[i - 1]
            laterals[i - 1] =
                target
                + interpolate(laterals[i], height: target.shape[2], width: target.shape[3], mode: config.upsample)
        }
        var outs = laterals.indices.map { fpnConvs[$0](laterals[$0]) }
        let used = outs.count
        for extra in 0..<(config.numOuts - used) {
            if config.extraSource == .none {
                outs.append(subsample(outs.last!))
                continue
            }
            var source: Tensor
            if extra > 0 {
                source = config.reluBeforeExtraConvs ? outs.last!.relu() : outs.last!
            } else {
                switch config.extraSource {
                case .onInput: source = inputs.last!
                case .onLateral: source = laterals.last!
                default: source = outs.last!
                }
            }
            outs.append(fpnConvs[used + extra](source))
        }
        return zip(outs, outputs).map { FeatureMap(nchw: $0, stride: $1.stride) }
    }

    /// `max_pool2d(x, kernel_size=1, stride=2)`: every other row and column.
    private func subsample(_ x: Tensor) -> Tensor {
        let (h, w) = (x.shape[2], x.shape[3])
        return x.indexSelect(axis: 2, indices: Array(stride(from: 0, to: h, by: 2)))
            .indexSelect(axis: 3, indices: Array(stride(from: 0, to: w, by: 2)))
    }
}
