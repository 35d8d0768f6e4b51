import MixKit

extension FeatureMap {
    /// Random feature maps for a component's probe: one per spec, N(0, 1) tokens
    /// `[batch, side * side, channels]` with `side = max(imageSize / stride, 1)`,
    /// drawn in spec order from `rng` (which the caller can go on drawing from).
    ///
    /// ```swift
    /// var rng = RandomGenerator(seed: 0)
    /// let features = FeatureMap.probe(context.inputs, imageSize: context.imageSize, using: &rng)
    /// ```
    public static func probe(
        _ specs: [FeatureSpec], imageSize: Int, batch: Int = 2, using rng: inout RandomGenerator
    ) -> [FeatureMap] {
        specs.map { spec in
            let side = max(imageSize / spec.stride, 1)
            return FeatureMap(
                tensor: Tensor.randomNormal([batch, side * side, spec.channels], using: &rng), height: side,
                width: side, stride: spec.stride)
        }
    }
}
