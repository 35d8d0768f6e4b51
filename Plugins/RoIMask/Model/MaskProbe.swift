import MixKit
import MixKitTesting

/// Deterministic inputs for `plugins check` and the tests: random feature maps
/// of a 2-image batch, a sampling of proposals, and each image's instance masks
/// (a rectangle and a disc inside their truth boxes).
package enum MaskProbe {
    package static func inputs(_ context: BuildContext)
        -> (features: [FeatureMap], samples: [SamplingResult], masks: [InstanceMasks])
    {
        var rng = RandomGenerator(seed: 0)
        let side = context.imageSize
        let features = FeatureMap.probe(context.inputs, imageSize: side, using: &rng)
        let s = Float(side) / 128
        func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
            BoundingBox(x1: x1 * s, y1: y1 * s, x2: x2 * s, y2: y2 * s)
        }
        func rectangle(_ b: BoundingBox) -> [UInt8] {
            (0..<(side * side)).map { i in
                let (y, x) = (Float(i / side) + 0.5, Float(i % side) + 0.5)
                return b.contains(x: x, y: y) ? 1 : 0
            }
        }
        func disc(_ b: BoundingBox) -> [UInt8] {
            let (cx, cy, r) = ((b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2, min(b.width, b.height) / 2)
            return (0..<(side * side)).map { i in
                let (y, x) = (Float(i / side) + 0.5, Float(i % side) + 0.5)
                return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r ? 1 : 0
            }
        }
        let classes = context.numClasses ?? 3
        let truth = [[box(8, 8, 40, 40), box(60, 30, 124, 110)], [box(4, 4, 36, 20)]]
        let targets = [
            DetectionTarget(boxes: truth[0], labels: [0, 1 % classes]),
            DetectionTarget(boxes: truth[1], labels: [2 % classes]),
        ]
        let masks = [
            InstanceMasks(height: side, width: side, bitmaps: [disc(truth[0][0]), rectangle(truth[0][1])]),
            InstanceMasks(height: side, width: side, bitmaps: [disc(truth[1][0])]),
        ]
        let proposals = [[box(10, 6, 42, 38), box(64, 34, 120, 100), box(80, 0, 100, 20)], [box(2, 6, 34, 22)]]
        let samples = zip(proposals, targets).map { priors, target in
            let assignment = MaxIoUAssigner.rcnn.assign(priors: priors, truth: target.boxes, labels: target.labels)
            return RandomSampler.rcnn.sample(
                assignment, priors: priors, truth: target.boxes, truthLabels: target.labels, using: &rng)
        }
        return (features, samples, masks)
    }
}
