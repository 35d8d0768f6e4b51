import MixKit

/// Validated hyper-parameters of ``PVTBackbone``, by the reference implementation's names
/// (Wang et al., "PVT v2: Improved Baselines with Pyramid Vision Transformer", 2021).
///
/// The defaults are PVT-v2-b0. Four stages at strides 4, 8, 16 and 32.
///
/// ```swift
/// let config = try PVTConfig(Parameters(defaultsOf: PVTConfig.schema))
/// config.gridSide(stage: 0)  // 56 for a 224-pixel image
/// ```
public struct PVTConfig {
    static let stageCount = 4
    /// The side of MixMAE's mask units in pixels: the stride of the last stage.
    static let maskUnit = 32

    var imageSize: Int
    var inChannels: Int
    var embedDims: [Int]
    var depths: [Int]
    var numHeads: [Int]
    var srRatios: [Int]
    var mlpRatios: [Double]
    var dropPathRate: Double
    var outIndices: [Int]
    var mixing: Bool

    public static let schema: [ParameterSpec] = [
        .int(
            "img_size", default: 224, range: 32...4096,
            doc: "Image side in pixels the configuration is checked for and MixMAE pretrains at; a multiple of 32. "
                + "Other tasks may feed any height and width (PVT has no position table to resize)."),
        .int("in_chans", default: 3, range: 1...64, doc: "Input image channels."),
        .intList(
            "embed_dims", default: [32, 64, 160, 256], range: 1...4096, count: stageCount,
            doc: "Channels of each stage."),
        .intList("depths", default: [2, 2, 2, 2], range: 1...64, count: stageCount, doc: "Blocks per stage."),
        .intList(
            "num_heads", default: [1, 2, 5, 8], range: 1...256, count: stageCount,
            doc: "Attention heads per stage; each must divide its stage's embed_dims."),
        .intList(
            "sr_ratios", default: [8, 4, 2, 1], range: 1...64, count: stageCount,
            doc: "Spatial reduction of keys and values per stage (a convolution with kernel = stride = ratio)."),
        .floatList(
            "mlp_ratios", default: [8, 8, 4, 4], range: 0.25...16, count: stageCount,
            doc: "Hidden width of each stage's MLP over its embed_dims."),
        .float(
            "drop_path_rate", default: 0, range: 0...0.95,
            doc: "Stochastic depth, rising linearly over all blocks to this rate."),
        .intList(
            "out_indices", default: [0, 1, 2, 3], range: 0...3,
            doc: "Stages whose (normalised) outputs are returned, at strides 4, 8, 16, 32."),
        .bool(
            "mixing", default: true,
            doc: "Support MixMAE mixing (pretraining): needs every reduced key within one 32x32-pixel mask "
                + "unit (stride x sr_ratio dividing 32). false allows other sr_ratios, for plain use only."),
    ]

    /// Reads validated parameters and checks that they fit together.
    public init(_ p: Parameters) throws {
        imageSize = p.int("img_size")
        inChannels = p.int("in_chans")
        embedDims = p.intList("embed_dims")
        depths = p.intList("depths")
        numHeads = p.intList("num_heads")
        srRatios = p.intList("sr_ratios")
        mlpRatios = p.floatList("mlp_ratios")
        dropPathRate = p.float("drop_path_rate")
        outIndices = p.intList("out_indices")
        mixing = p.bool("mixing")
        try validate()
    }

    /// The stride of stage `s` from the input image: 4, 8, 16, 32.
    static func stride(stage s: Int) -> Int { 4 << s }

    /// The grid side of stage `s`.
    func gridSide(stage s: Int) -> Int { imageSize / PVTConfig.stride(stage: s) }

    /// The side of the key grid of stage `s`'s spatial-reduction attention.
    func keyGridSide(stage s: Int) -> Int { gridSide(stage: s) / srRatios[s] }

    /// The hidden width of stage `s`'s MLP.
    func mlpHidden(stage s: Int) -> Int { max(1, Int((Double(embedDims[s]) * mlpRatios[s]).rounded())) }

    public var capabilities: BackboneCapabilities {
        BackboneCapabilities(
            outputs: outIndices.map { FeatureSpec(stride: PVTConfig.stride(stage: $0), channels: embedDims[$0]) },
            supportsMixing: mixing, inputChannels: inChannels, imageSize: imageSize, arbitraryInputSize: true)
    }

    /// Parameters and per-image activations, counted from the shapes alone
    /// (no weights built), for ``ComponentDescriptor/validate``.
    public var plan: ComponentPlan {
        var parameters = 0.0
        var activations = Double(inChannels * imageSize * imageSize)
        var previous = Double(inChannels)
        for s in 0..<PVTConfig.stageCount {
            let c = Double(embedDims[s])
            let hidden = Double(mlpHidden(stage: s))
            let tokens = Double(gridSide(stage: s) * gridSide(stage: s))
            let keys = Double(keyGridSide(stage: s) * keyGridSide(stage: s))
            let sr = Double(srRatios[s])
            let kernel = s == 0 ? 49.0 : 9.0
            parameters += previous * c * kernel + 3 * c
            let block = 4 * c * c + (sr > 1 ? c * c * sr * sr + 3 * c : 0) + 2 * c * hidden + 9 * hidden + 9 * c
            parameters += Double(depths[s]) * block
            let saved = tokens * (12 * c + 3 * hidden) + 2 * tokens * keys * Double(numHeads[s])
            activations += Double(depths[s]) * saved
            previous = c
        }
        return ComponentPlan(
            parameterCount: parameters, activationsPerImage: activations, outputs: capabilities.outputs)
    }

    private func validate() throws {
        let lists: [(String, Int)] = [
            ("embed_dims", embedDims.count), ("depths", depths.count), ("num_heads", numHeads.count),
            ("sr_ratios", srRatios.count), ("mlp_ratios", mlpRatios.count),
        ]
        for (name, count) in lists where count != PVTConfig.stageCount {
            throw ComponentConfigurationError(
                parameter: name, problem: "has \(count) entries; PVT has \(PVTConfig.stageCount) stages")
        }
        guard imageSize % 32 == 0 else {
            throw ComponentConfigurationError(
                parameter: "img_size",
                problem:
                    "\(imageSize) is not a multiple of 32 (the stride of the last stage); try \(imageSize / 32 * 32 + 32)"
            )
        }
        for s in 0..<PVTConfig.stageCount {
            if embedDims[s] % numHeads[s] != 0 {
                throw ComponentConfigurationError(
                    parameter: "num_heads",
                    problem: "stage \(s): \(numHeads[s]) heads do not divide embed_dims[\(s)] = \(embedDims[s])")
            }
            if gridSide(stage: s) % srRatios[s] != 0 {
                throw ComponentConfigurationError(
                    parameter: "sr_ratios",
                    problem: "stage \(s): the ratio \(srRatios[s]) does not divide the \(gridSide(stage: s))-token "
                        + "grid side of a \(imageSize)-pixel image")
            }
        }
        if mixing { try validateMixing() }
        if Set(outIndices).count != outIndices.count || outIndices.isEmpty {
            throw ComponentConfigurationError(
                parameter: "out_indices", problem: "\(outIndices) must name at least one stage, each once")
        }
    }

    /// MixMAE keeps every token within its source image. Spatial-reduction
    /// attention can only do that if each reduced key (a `sr x sr` block of stage
    /// tokens, `stride * sr` pixels wide) lies inside one 32x32-pixel mask unit:
    /// then the key grid is the mask grid or a whole multiple of it, and every key
    /// has exactly one source image.
    private func validateMixing() throws {
        let maskSide = imageSize / PVTConfig.maskUnit
        for s in 0..<PVTConfig.stageCount {
            let stride = PVTConfig.stride(stage: s)
            let keyPixels = stride * srRatios[s]
            guard PVTConfig.maskUnit % keyPixels != 0 else { continue }
            let fitting = PVTConfig.maskUnit / stride
            throw ComponentConfigurationError(
                parameter: "sr_ratios",
                problem: "stage \(s): a reduction ratio of \(srRatios[s]) at stride \(stride) makes every key "
                    + "\(keyPixels)x\(keyPixels) pixels, so the \(keyGridSide(stage: s))x\(keyGridSide(stage: s)) "
                    + "key grid of a \(imageSize)-pixel image does not align with its \(maskSide)x\(maskSide) grid of "
                    + "32x32-pixel MixMAE mask units and keys would mix the two source images of a mixed batch; use "
                    + "a ratio that divides \(fitting) (PVT's usual is \(fitting)), or set mixing: false to use the "
                    + "backbone without MixMAE mixing")
        }
    }
}
