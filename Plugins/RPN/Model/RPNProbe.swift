import MixKit
import MixKitTesting

/// Deterministic inputs for `plugins check` and the tests: random feature maps
/// of a 2-image batch at the context's image size, and boxes drawn to overlap anchors.
package enum RPNProbe {
    package static func inputs(_ context: BuildContext)
        -> (features: [FeatureMap], targets: [DetectionTarget], images: [DetectionImageShape])
    {
        var rng = RandomGenerator(seed: 0)
        let features = FeatureMap.probe(context.inputs, imageSize: context.imageSize, using: &rng)
        let s = Float(context.imageSize) / 128
        func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
            BoundingBox(x1: x1 * s, y1: y1 * s, x2: x2 * s, y2: y2 * s)
        }
        let targets = [
            DetectionTarget(boxes: [box(8, 8, 40, 40), box(60, 30, 124, 110)], labels: [0, 1]),
            DetectionTarget(boxes: [box(4, 4, 36, 20)], labels: [0]),
        ]
        let full = ImageSize(height: context.imageSize, width: context.imageSize)
        let shapes = [
            DetectionImageShape(size: full, paddedSize: full),
            DetectionImageShape(
                size: ImageSize(height: context.imageSize * 3 / 4, width: context.imageSize), paddedSize: full),
        ]
        return (features, targets, shapes)
    }
}
