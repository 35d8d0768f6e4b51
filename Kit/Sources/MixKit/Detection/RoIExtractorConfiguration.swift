extension RoIExtractor {
    /// An extractor over the `levels` finest of a neck's feature maps, checked as
    /// an RoI head's configuration: a recipe whose maps do not fit is a
    /// ``ComponentConfigurationError``, not a crash. The maps must be at least
    /// `levels` (the error names `levelsParameter`), have the same channels (one
    /// head pools every level; the error names `head`, the recipe slot) and grow in
    /// stride, finest first (small RoIs go to level 0). The head's input channels
    /// are then `inputs[0].channels`.
    ///
    /// ```swift
    /// extractor = try RoIExtractor(
    ///     levels: p.int("num_levels"), of: context.inputs, outputSize: p.int("roi_feat_size"), head: "roi_box")
    /// inChannels = context.inputs[0].channels
    /// ```
    public init(
        levels: Int, of inputs: [FeatureSpec], outputSize: Int, samplingRatio: Int = 0, finestScale: Float = 56,
        aligned: Bool = true, head: String, levelsParameter: String = "num_levels"
    ) throws {
        guard levels >= 1 else {
            throw ComponentConfigurationError(
                parameter: levelsParameter, problem: "\(levels) levels: RoIs need at least one level to pool from")
        }
        guard inputs.count >= levels else {
            throw ComponentConfigurationError(
                parameter: levelsParameter,
                problem: "\(levels) levels but the neck emits \(inputs.count) maps (strides "
                    + "\(inputs.map(\.stride))): lower \(levelsParameter) or raise the neck's num_outs")
        }
        let used = inputs.prefix(levels)
        guard used.allSatisfy({ $0.channels == inputs[0].channels }) else {
            throw ComponentConfigurationError(
                parameter: head,
                problem: "pools every level into one head, so the maps need the same channels; got "
                    + "\(inputs.map(\.channels)) (use an fpn neck)")
        }
        let strides = used.map(\.stride)
        guard strides[0] >= 1, zip(strides, strides.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ComponentConfigurationError(
                parameter: head,
                problem: "maps small RoIs to the first level, so the strides must be positive and grow level by "
                    + "level (finest first); got \(strides) (use an fpn neck)")
        }
        self.init(
            featureStrides: strides, outputSize: outputSize, samplingRatio: samplingRatio, finestScale: finestScale,
            aligned: aligned)
    }
}
