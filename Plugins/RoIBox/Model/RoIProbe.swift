import MixKit
import MixKitTesting

/// Deterministic inputs for `plugins check` and the tests: random feature maps
/// of a 2-image batch, proposals around and away from the truth boxes, and targets.
package enum RoIProbe {
    package static func inputs(_ context: BuildContext)
        -> (features: [FeatureMap], proposals: [[BoundingBox]], targets: [DetectionTarget])
    {
        var rng = RandomGenerator(seed: 0)
        let features = FeatureMap.probe(context.inputs, imageSize: context.imageSize, using: &rng)
        let s = Float(context.imageSize) / 128
        func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
            BoundingBox(x1: x1 * s, y1: y1 * s, x2: x2 * s, y2: y2 * s)
        }
        let classes = context.numClasses ?? 3
        let targets = [
            DetectionTarget(boxes: [box(8, 8, 40, 40), box(60, 30, 124, 110)], labels: [0, 1 % classes]),
            DetectionTarget(boxes: [box(4, 4, 36, 20)], labels: [2 % classes]),
        ]
        let proposals = [
            [box(10, 6, 42, 38), box(64, 34, 120, 100), box(80, 0, 100, 20), box(0, 90, 30, 128)],
            [box(2, 6, 34, 22), box(50, 50, 90, 90)],
        ]
        return (features, proposals, targets)
    }
}
