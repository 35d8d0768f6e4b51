import MixKit
import MixmaeData

/// Backbone + optional neck + detection head. Backbone tensors sit at the root
/// (as in a pretraining checkpoint), the neck's under `neck.` and the head's
/// under `bbox_head.` (mmdetection's names).
///
/// ```swift
/// let detector = DetectorModel(backbone: swin, neck: fpn, head: fcos)
/// let loss = detector.loss(images, targets: targets)
/// ```
public final class DetectorModel: Module {
    public let backbone: Backbone
    public let neck: Neck?
    public let head: DetectionHead

    public init(backbone: Backbone, neck: Neck?, head: DetectionHead) {
        self.backbone = backbone
        self.neck = neck
        self.head = head
        super.init()
    }

    public override func children() -> [(String, Any)] {
        [("", backbone)] + (neck.map { [("neck", $0 as Any)] } ?? []) + [("bbox_head", head)]
    }

    /// The maps the head reads: the neck's outputs, or the backbone's without a neck.
    public func features(_ images: Tensor) -> [FeatureMap] {
        let maps = backbone.features(images, mixing: nil)
        return neck.map { $0(maps) } ?? maps
    }

    public func loss(_ images: Tensor, targets: [DetectionTarget]) -> HeadLoss {
        head.loss(features(images), targets: targets)
    }

    public func predict(_ images: Tensor, imageSizes: [ImageSize], settings: DetectionSettings) -> [[Detection]] {
        withNoGrad { head.predict(features(images), imageSizes: imageSizes, settings: settings) }
    }

    /// Detections for every image of a padded batch, in input coordinates. Images
    /// run in groups of equal padded size (their own size rounded up to the size
    /// divisor), each group cut from the batch at that size: an image gives the
    /// detections it gives alone, whatever else shares its batch, and nothing is
    /// predicted in its padding.
    public func predict(_ batch: DetectionBatch, settings: DetectionSettings) -> [[Detection]] {
        var results = [[Detection]](repeating: [], count: batch.targets.count)
        let groups = Dictionary(grouping: batch.targets.indices) {
            PaddedSize(width: batch.targets[$0].geometry.paddedWidth, height: batch.targets[$0].geometry.paddedHeight)
        }
        for (size, members) in groups.sorted(by: { $0.value[0] < $1.value[0] }) {
            let images = withNoGrad {
                concatenate(
                    members.map {
                        batch.images.slice(axis: 0, $0..<($0 + 1)).slice(axis: 2, 0..<size.height)
                            .slice(axis: 3, 0..<size.width)
                    }, axis: 0)
            }
            let sizes = members.map {
                ImageSize(height: batch.targets[$0].geometry.validHeight, width: batch.targets[$0].geometry.validWidth)
            }
            for (slot, found) in zip(members, predict(images, imageSizes: sizes, settings: settings)) {
                results[slot] = found
            }
        }
        return results
    }
}

private struct PaddedSize: Hashable {
    var width: Int
    var height: Int
}

/// Backbone + optional neck + segmentation head. Backbone tensors sit at the
/// root, the neck's under `neck.` and the head's under `decode_head.`
/// (mmsegmentation's names).
///
/// ```swift
/// let segmentor = SegmentorModel(backbone: swin, neck: nil, head: upernet)
/// let logits = segmentor.logits(images)   // [B, classes, H/4, W/4]
/// ```
public final class SegmentorModel: Module {
    public let backbone: Backbone
    public let neck: Neck?
    public let head: SegmentationHead

    public init(backbone: Backbone, neck: Neck?, head: SegmentationHead) {
        self.backbone = backbone
        self.neck = neck
        self.head = head
        super.init()
    }

    public override func children() -> [(String, Any)] {
        [("", backbone)] + (neck.map { [("neck", $0 as Any)] } ?? []) + [("decode_head", head)]
    }

    public func features(_ images: Tensor) -> [FeatureMap] {
        let maps = backbone.features(images, mixing: nil)
        return neck.map { $0(maps) } ?? maps
    }

    public func loss(_ images: Tensor, labels: SegmentationLabels) -> HeadLoss {
        head.loss(features(images), labels: labels)
    }

    /// Logits resized (bilinear) to the input's height and width, without recording the graph.
    public func logits(_ images: Tensor) -> Tensor {
        withNoGrad {
            interpolate(head.logits(features(images)), height: images.shape[2], width: images.shape[3])
        }
    }
}
