import MixKit

/// Whether the tokens of the two images a MixMAE input mixes may attend to each other.
package enum MixAttention: String, CaseIterable {
    /// Each token attends only to tokens of its own source image (the paper's masked self-attention).
    case masked
    /// Every token attends to every token of its window, whichever image it came from.
    case full
}

/// Validated hyper-parameters of ``SwinBackbone``, by their reference names.
package struct SwinConfig {
    package var imageSize: Int
    package var patchSize: Int
    package var inChannels: Int
    var embedDim: Int
    var depths: [Int]
    var numHeads: [Int]
    var windowSize: [Int]
    var mlpRatio: Double
    var qkvBias: Bool
    var dropPathRate: Double
    var outIndices: [Int]
    package var mixAttention: MixAttention

    package static let schema: [ParameterSpec] = [
        .int(
            "img_size", default: 224, range: 16...4096,
            doc:
                "The square image side the position table and windows are defined for; inputs may have any size (padded to whole windows, the table resized)."
        ),
        .int("patch_size", default: 4, range: 1...64, doc: "Side of the patch embedding's kernel and stride."),
        .int("in_chans", default: 3, range: 1...64, doc: "Input image channels."),
        .int("embed_dim", default: 96, range: 1...4096, doc: "Channels of the first stage; doubled at every stage."),
        .intList("depths", default: [2, 2, 6, 2], range: 1...128, doc: "Blocks per stage."),
        .intList("num_heads", default: [3, 6, 12, 24], range: 1...256, doc: "Attention heads per stage."),
        .intList(
            "window_size", default: [14, 14, 14, 7], range: 1...512,
            doc: "Window side per stage; a window larger than its stage's grid is clamped to the grid."),
        .float("mlp_ratio", default: 4, range: 0.25...16, doc: "Hidden width of the MLP over the block width."),
        .bool("qkv_bias", default: true, doc: "Learn a bias in the query/key/value projection."),
        .float("drop_path_rate", default: 0, range: 0...0.95, doc: "Stochastic depth, rising linearly to this rate."),
        .intList(
            "out_indices", default: [3], range: 0...15,
            doc:
                "Stages whose outputs are returned; the last stage goes through `norm`, earlier ones through `out_norms.i`."
        ),
        .string(
            "mix_attention", default: MixAttention.masked.rawValue, allowed: MixAttention.allCases.map(\.rawValue),
            doc:
                "MixMAE only: `masked` keeps each token's attention within its source image (the paper), `full` lets the tokens of the two mixed images attend to each other."
        ),
    ]

    /// Reads and cross-checks validated parameters.
    package init(_ p: Parameters) throws {
        imageSize = p.int("img_size")
        patchSize = p.int("patch_size")
        inChannels = p.int("in_chans")
        embedDim = p.int("embed_dim")
        depths = p.intList("depths")
        numHeads = p.intList("num_heads")
        windowSize = p.intList("window_size")
        mlpRatio = p.float("mlp_ratio")
        qkvBias = p.bool("qkv_bias")
        dropPathRate = p.float("drop_path_rate")
        outIndices = p.intList("out_indices")
        mixAttention = MixAttention(rawValue: p.string("mix_attention")) ?? .masked
        try validate()
    }

    package var stageCount: Int { depths.count }

    /// The grid side of stage `s` at `img_size` (patch merging rounds odd grids up).
    package func gridSide(stage s: Int) -> Int {
        (0..<s).reduce(imageSize / patchSize) { side, _ in (side + 1) / 2 }
    }

    /// The window side of stage `s`, clamped to the grid.
    func window(stage s: Int) -> Int { min(windowSize[s], gridSide(stage: s)) }

    /// The most stages: the grid halves between stages and channels double.
    static let maximumStages = 8

    private func validate() throws {
        guard depths.count <= SwinConfig.maximumStages else {
            throw ComponentConfigurationError(
                parameter: "depths",
                problem: "\(depths.count) stages; a Swin has at most \(SwinConfig.maximumStages) (usually 4)")
        }
        guard numHeads.count == depths.count, windowSize.count == depths.count else {
            throw ComponentConfigurationError(
                parameter: "num_heads/window_size",
                problem:
                    "depths has \(depths.count) stages, num_heads \(numHeads.count) and window_size \(windowSize.count): give one value per stage"
            )
        }
        guard imageSize % patchSize == 0 else {
            throw ComponentConfigurationError(
                parameter: "img_size", problem: "\(imageSize) is not divisible by patch_size \(patchSize)")
        }
        for s in 0..<stageCount {
            let dim = embedDim << s
            guard dim % numHeads[s] == 0 else {
                throw ComponentConfigurationError(
                    parameter: "num_heads[\(s)]",
                    problem: "stage \(s) has \(dim) channels, not divisible by \(numHeads[s]) heads")
            }
        }
        for i in outIndices where i >= stageCount {
            throw ComponentConfigurationError(
                parameter: "out_indices", problem: "stage \(i) does not exist; stages are 0..<\(stageCount)")
        }
    }

    /// Parameters and per-image activations, counted from the shapes alone
    /// (no weights built): attention (qkv and projection), MLP, norms and the
    /// relative position tables per block, the patch embedding and the merges.
    package var plan: ComponentPlan {
        var parameters = Double(inChannels * patchSize * patchSize * embedDim + embedDim)
        var activations = Double(inChannels * imageSize * imageSize)
        for s in 0..<stageCount {
            let c = Double(embedDim << s)
            let hidden = (c * mlpRatio).rounded(.down)
            let tokens = Double(gridSide(stage: s) * gridSide(stage: s))
            let w = Double(window(stage: s))
            let heads = Double(numHeads[s])
            let block = 4 * c * c + 2 * c * hidden + 9 * c + hidden + (2 * w - 1) * (2 * w - 1) * heads
            // Kept for backward: norms, qkv, attention output, MLP input and
            // hidden (twice, around the activation), residuals; and the attention maps.
            let saved = tokens * (12 * c + 2 * hidden) + 2 * tokens * w * w * heads
            parameters += Double(depths[s]) * block
            activations += Double(depths[s]) * saved
            if s + 1 < stageCount { parameters += 4 * c * 2 * c + 8 * c }
        }
        return ComponentPlan(
            parameterCount: parameters, activationsPerImage: activations, outputs: capabilities.outputs)
    }

    package var capabilities: BackboneCapabilities {
        BackboneCapabilities(
            outputs: outIndices.sorted().map { FeatureSpec(stride: patchSize << $0, channels: embedDim << $0) },
            supportsMixing: true, inputChannels: inChannels, imageSize: imageSize,
            arbitraryInputSize: true)
    }
}
