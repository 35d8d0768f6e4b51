import MixKit

/// Validated parameters of ``UperNetHead``, by mmsegmentation's names.
struct UperNetConfig {
    var numClasses: Int
    var inChannels: [Int]
    var channels: Int
    var poolScales: [Int]
    var numGroups: Int
    var dropoutRatio: Float
    var alignCorners: Bool
    var auxiliary: Bool
    var auxInIndex: Int
    var auxChannels: Int
    var auxWeight: Float

    static let schema: [ParameterSpec] = [
        .int("num_classes", default: 150, range: 1...100_000, doc: "Classes; the task's dataset overrides it."),
        .int("channels", default: 512, range: 1...8192, doc: "Channels of the pyramid pooling and fusion layers."),
        .intList("pool_scales", default: [1, 2, 3, 6], range: 1...64, doc: "Bins of the pyramid pooling module."),
        .int(
            "num_groups", default: 32, range: 0...4096,
            doc:
                "GroupNorm groups after every convolution (must divide the channels); 0 = none. "
                + "(mmseg's UperNet uses BatchNorm; GroupNorm does not depend on the batch size.)"),
        .float("dropout_ratio", default: 0.1, range: 0...0.95, doc: "Channel dropout before the classifier."),
        .bool("align_corners", default: false, doc: "align_corners of every bilinear resize."),
        .bool("auxiliary_head", default: true, doc: "Add an FCN head on one stage as a training-only auxiliary loss."),
        .int("aux_in_index", default: 2, range: 0...15, doc: "The feature map the auxiliary head reads (stage 3 = 2)."),
        .int("aux_channels", default: 256, range: 1...8192, doc: "Channels of the auxiliary head's convolution."),
        .float("aux_weight", default: 0.4, range: 0...100, doc: "Weight of the auxiliary loss."),
    ]

    init(_ p: Parameters, context: BuildContext) throws {
        numClasses = context.numClasses ?? p.int("num_classes")
        inChannels = context.inputs.map(\.channels)
        channels = p.int("channels")
        poolScales = p.intList("pool_scales")
        numGroups = p.int("num_groups")
        dropoutRatio = Float(p.float("dropout_ratio"))
        alignCorners = p.bool("align_corners")
        auxiliary = p.bool("auxiliary_head")
        auxInIndex = p.int("aux_in_index")
        auxChannels = p.int("aux_channels")
        auxWeight = Float(p.float("aux_weight"))
        guard inChannels.count >= 2 else {
            throw ComponentConfigurationError(
                parameter: "head",
                problem:
                    "upernet fuses several stages; the backbone emits \(inChannels.count) map(s): set the backbone's out_indices to [0, 1, 2, 3]"
            )
        }
        guard !poolScales.isEmpty else {
            throw ComponentConfigurationError(parameter: "pool_scales", problem: "give at least one bin size")
        }
        if numGroups > 0 {
            for (name, c) in [("channels", channels), ("aux_channels", auxChannels)] where c % numGroups != 0 {
                throw ComponentConfigurationError(
                    parameter: "num_groups", problem: "\(numGroups) groups do not divide \(name) \(c)")
            }
        }
        if auxiliary && auxInIndex >= inChannels.count {
            throw ComponentConfigurationError(
                parameter: "aux_in_index",
                problem: "\(auxInIndex) but the backbone emits \(inChannels.count) maps (0..<\(inChannels.count))")
        }
    }

    var groups: Int? { numGroups > 0 ? numGroups : nil }
}

/// mmsegmentation's `FCNHead` with one convolution, used as UperNet's auxiliary head:
/// `convs.0` (3x3 conv + norm + ReLU), channel dropout, `conv_seg` (1x1).
final class AuxiliaryFCNHead: Module {
    let convs: [ConvModule]
    let convSeg: Conv2d
    let dropoutRatio: Float

    /// The model's generator, for the channel dropout.
    let rng: RandomSource

    init(inChannels: Int, channels: Int, classes: Int, groups: Int?, dropoutRatio: Float, rng: RandomSource) {
        convs = [ConvModule(inChannels, channels, kernelSize: 3, padding: 1, groupNormGroups: groups, rng: rng)]
        convSeg = Conv2d(channels, classes, kernelSize: 1, rng: rng)
        self.dropoutRatio = dropoutRatio
        self.rng = rng
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = convs.reduce(x) { h, conv in conv(h) }
        return convSeg(channelDropout(h, p: dropoutRatio, training: isTraining, using: rng))
    }
}

/// UperNet (Xiao et al. 2018) as mmsegmentation's `UPerHead`, the paper's
/// segmentation setting: a pyramid pooling module on the last stage (bins
/// 1, 2, 3, 6 by default), FPN-style fusion of all stages (1x1 laterals,
/// top-down bilinear addition, 3x3 outputs), every level resized to the first
/// stage's resolution and concatenated, a 3x3 fusion convolution, channel
/// dropout and a 1x1 classifier. Normalisation is GroupNorm (mmseg uses
/// BatchNorm). The optional auxiliary FCN head (weight 0.4) trains on one stage.
///
/// Tensor names: `psp_modules.i.conv.weight`, `bottleneck.*`, `lateral_convs.i.*`,
/// `fpn_convs.i.*`, `fpn_bottleneck.*`, `conv_seg.*`, `auxiliary_head.*`.
final class UperNetHead: Module, SegmentationHead {
    let pspModules: [ConvModule]
    let bottleneck: ConvModule
    let lateralConvs: [ConvModule]
    let fpnConvs: [ConvModule]
    let fpnBottleneck: ConvModule
    let convSeg: Conv2d
    let auxiliaryHead: AuxiliaryFCNHead?
    let config: UperNetConfig
    /// The model's generator, for the channel dropout.
    let rng: RandomSource

    var classCount: Int { config.numClasses }

    init(_ config: UperNetConfig, rng: RandomSource) {
        self.config = config
        self.rng = rng
        let (c, g) = (config.channels, config.groups)
        let last = config.inChannels.last!
        pspModules = config.poolScales.map { _ in ConvModule(last, c, kernelSize: 1, groupNormGroups: g, rng: rng) }
        bottleneck = ConvModule(
            last + config.poolScales.count * c, c, kernelSize: 3, padding: 1, groupNormGroups: g, rng: rng)
        lateralConvs = config.inChannels.dropLast().map {
            ConvModule($0, c, kernelSize: 1, groupNormGroups: g, rng: rng)
        }
        fpnConvs = config.inChannels.dropLast().map { _ in
            ConvModule(c, c, kernelSize: 3, padding: 1, groupNormGroups: g, rng: rng)
        }
        fpnBottleneck = ConvModule(
            config.inChannels.count * c, c, kernelSize: 3, padding: 1, groupNormGroups: g, rng: rng)
        convSeg = Conv2d(c, config.numClasses, kernelSize: 1, rng: rng)
        auxiliaryHead =
            config.auxiliary
            ? AuxiliaryFCNHead(
                inChannels: config.inChannels[config.auxInIndex], channels: config.auxChannels,
                classes: config.numClasses, groups: g, dropoutRatio: config.dropoutRatio, rng: rng) : nil
        super.init()
        // mmcv's ConvModule init (Kaiming normal, fan-out) and mmseg's classifier init N(0, 0.01).
        for (_, module) in namedModules() {
            guard let conv = module as? Conv2d else { continue }
            Init.kaimingNormal(conv.weight, using: rng)
            if let bias = conv.bias { Init.constant(bias, 0) }
        }
        for classifier in [convSeg] + (auxiliaryHead.map { [$0.convSeg] } ?? []) {
            Init.normal(classifier.weight, std: 0.01, using: rng)
            Init.constant(classifier.bias!, 0)
        }
    }

    private func resize(_ x: Tensor, like reference: Tensor) -> Tensor {
        interpolate(
            x, height: reference.shape[2], width: reference.shape[3], mode: .bilinear,
            alignCorners: config.alignCorners)
    }

    func logits(_ features: [FeatureMap]) -> Tensor {
        precondition(
            features.count == config.inChannels.count,
            "upernet: built for \(config.inChannels.count) feature maps, got \(features.count)")
        let inputs = features.map { $0.nchw() }
        // Pyramid pooling on the last stage.
        let top = inputs.last!
        let pooled = zip(config.poolScales, pspModules).map { scale, conv in
            resize(conv(adaptiveAvgPool2d(top, height: scale, width: scale)), like: top)
        }
        let psp = bottleneck(concatenate([top] + pooled, axis: 1))
        // FPN fusion.
        var laterals = zip(lateralConvs, inputs).map { conv, x in conv(x) } + [psp]
        for i in stride(from: laterals.count - 1, to: 0, by: -1) {
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], like: laterals[i - 1])
        }
        var outs = zip(fpnConvs, laterals).map { conv, x in conv(x) } + [psp]
        for i in 1..<outs.count { outs[i] = resize(outs[i], like: outs[0]) }
        let fused = fpnBottleneck(concatenate(outs, axis: 1))
        return convSeg(channelDropout(fused, p: config.dropoutRatio, training: isTraining, using: rng))
    }

    func loss(_ features: [FeatureMap], labels: SegmentationLabels) -> HeadLoss {
        func upsampled(_ logits: Tensor) -> Tensor {
            interpolate(
                logits, height: labels.height, width: labels.width, mode: .bilinear, alignCorners: config.alignCorners)
        }
        let main = pixelCrossEntropy(upsampled(logits(features)), labels: labels)
        var terms = ["loss_ce": Double(main.item())]
        guard let auxiliaryHead, config.auxWeight > 0 else { return HeadLoss(total: main, terms: terms) }
        let aux =
            pixelCrossEntropy(upsampled(auxiliaryHead(features[config.auxInIndex].nchw())), labels: labels)
            * config.auxWeight
        terms["aux_loss_ce"] = Double(aux.item())
        return HeadLoss(total: main + aux, terms: terms)
    }
}

/// `nn.Dropout2d`: zeroes whole channels of `[B, C, H, W]` with probability `p`, drawing from `rng`.
func channelDropout(_ x: Tensor, p: Float, training: Bool, using rng: RandomSource) -> Tensor {
    guard training && p > 0 else { return x }
    let mask = dropout(Tensor.ones([x.shape[0], x.shape[1], 1, 1]), p: p, training: true, using: rng)
    return x * mask
}
