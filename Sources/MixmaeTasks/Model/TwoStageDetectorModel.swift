import MixKit
import MixmaeData

/// What the detect task trains and evaluates: a one-stage ``DetectorModel``
/// (FCOS) or a ``TwoStageDetectorModel`` (Faster / Mask R-CNN).
///
/// ```swift
/// let loss = model.loss(batch)                       // training
/// let found = model.instances(batch, settings: s)    // boxes (and masks) per image
/// ```
public protocol DetectionModel: BackboneModel {
    /// Whether ``instances(_:settings:)`` gives masks, and training needs them.
    var predictsMasks: Bool { get }
    /// The training loss of a batch (masks in its targets when ``predictsMasks``).
    func loss(_ batch: DetectionBatch) -> HeadLoss
    /// Detections per image of a padded batch in input coordinates, each image as it
    /// would be alone; without recording the graph.
    func instances(_ batch: DetectionBatch, settings: DetectionSettings) -> [[InstanceDetection]]
}

/// One detection, with its mask when the model predicts masks.
public struct InstanceDetection: Equatable, Sendable {
    public var detection: Detection
    /// `maskSide * maskSide` foreground probabilities in the detection's box, row-major.
    public var mask: [Float]?
    public var maskSide: Int

    public init(detection: Detection, mask: [Float]? = nil, maskSide: Int = 0) {
        self.detection = detection
        self.mask = mask
        self.maskSide = maskSide
    }
}

extension DetectorModel: DetectionModel {
    public var predictsMasks: Bool { false }

    public func loss(_ batch: DetectionBatch) -> HeadLoss {
        loss(batch.images, targets: batch.targets.map(\.detectionTarget))
    }

    public func instances(_ batch: DetectionBatch, settings: DetectionSettings) -> [[InstanceDetection]] {
        predict(batch, settings: settings).map { $0.map { InstanceDetection(detection: $0) } }
    }
}

/// A two-stage detector (mmdetection's `TwoStageDetector` with a
/// `StandardRoIHead`): backbone, neck, a region proposal network, a RoI box
/// head and an optional RoI mask head, each a plugin. Training sums the RPN's,
/// the box head's and the mask head's losses; the box head samples the RPN's
/// proposals and hands its positives to the mask head. Inference: proposals,
/// detections, then one mask per detection.
///
/// Tensor names are mmdetection's: the backbone at the root (as a pretraining
/// checkpoint has it), then `neck.`, `rpn_head.`, `roi_head.bbox_head.`, `roi_head.mask_head.`.
///
/// ```swift
/// let maskRCNN = TwoStageDetectorModel(backbone: swin, neck: fpn, rpn: rpn, boxHead: box, maskHead: mask)
/// let loss = maskRCNN.loss(batch)   // loss_rpn_cls, loss_rpn_bbox, loss_cls, loss_bbox, loss_mask
/// ```
public final class TwoStageDetectorModel: Module, DetectionModel {
    public let backbone: Backbone
    public let neck: Neck?
    public let rpn: RegionProposalHead
    public let boxHead: RoIBoxHead
    public let maskHead: RoIMaskHead?

    public init(
        backbone: Backbone, neck: Neck?, rpn: RegionProposalHead, boxHead: RoIBoxHead, maskHead: RoIMaskHead?
    ) {
        self.backbone = backbone
        self.neck = neck
        self.rpn = rpn
        self.boxHead = boxHead
        self.maskHead = maskHead
        super.init()
    }

    public override func children() -> [(String, Any)] {
        [("", backbone)] + (neck.map { [("neck", $0 as Any)] } ?? []) + [
            ("rpn_head", rpn), ("roi_head.bbox_head", boxHead),
        ] + (maskHead.map { [("roi_head.mask_head", $0 as Any)] } ?? [])
    }

    public var predictsMasks: Bool { maskHead != nil }

    /// The maps the heads read: the neck's outputs, or the backbone's without a neck.
    public func features(_ images: Tensor) -> [FeatureMap] {
        let maps = backbone.features(images, mixing: nil)
        return neck.map { $0(maps) } ?? maps
    }

    public func loss(_ batch: DetectionBatch) -> HeadLoss {
        let maps = features(batch.images)
        let targets = batch.targets.map(\.detectionTarget)
        let shapes = batch.targets.map(\.imageShape)
        let (rpnLoss, proposals) = rpn.loss(maps, targets: targets, images: shapes)
        let (boxLoss, samples) = boxHead.loss(maps, proposals: proposals, targets: targets)
        var total = rpnLoss.total + boxLoss.total
        var terms = rpnLoss.terms.merging(boxLoss.terms) { a, _ in a }
        if let maskHead {
            // The loader makes masks for every image of a mask model (DetectSetup checks the
            // annotations); an image without boxes may have none.
            let masks = batch.targets.map {
                $0.masks ?? InstanceMasks(height: $0.geometry.paddedHeight, width: $0.geometry.paddedWidth, values: [])
            }
            let maskLoss = maskHead.loss(maps, samples: samples, masks: masks)
            total = total + maskLoss.total
            terms.merge(maskLoss.terms) { a, _ in a }
        }
        return HeadLoss(total: total, terms: terms)
    }

    /// Detections (and masks) of images already cut to one padded size.
    func instances(_ images: Tensor, shapes: [DetectionImageShape], settings: DetectionSettings)
        -> [[InstanceDetection]]
    {
        withNoGrad {
            let maps = features(images)
            let proposals = rpn.proposals(maps, images: shapes)
            let detections = boxHead.predict(maps, proposals: proposals, images: shapes, settings: settings)
            guard let maskHead else { return detections.map { $0.map { InstanceDetection(detection: $0) } } }
            let masks = maskHead.predict(maps, detections: detections)
            return zip(detections, masks).map { found, probabilities in
                zip(found, probabilities).map {
                    InstanceDetection(detection: $0, mask: $1, maskSide: maskHead.maskSize)
                }
            }
        }
    }

    public func instances(_ batch: DetectionBatch, settings: DetectionSettings) -> [[InstanceDetection]] {
        PaddedGroups.run(batch) { images, members in
            instances(images, shapes: members.map { batch.targets[$0].imageShape }, settings: settings)
        }
    }
}

extension DetectionBatch.Target {
    /// Where the image lies in its batch, as the two-stage heads take it.
    public var imageShape: DetectionImageShape {
        DetectionImageShape(
            size: ImageSize(height: geometry.validHeight, width: geometry.validWidth),
            paddedSize: ImageSize(height: geometry.paddedHeight, width: geometry.paddedWidth))
    }
}

/// Runs a model on the images of a padded batch in groups of equal padded size
/// (each image's own size rounded up to the size divisor), each group cut from
/// the batch at that size: an image's results do not depend on its batch-mates.
enum PaddedGroups {
    static func run<T>(_ batch: DetectionBatch, _ body: (Tensor, [Int]) -> [T]) -> [T] {
        var results = [T?](repeating: nil, count: batch.targets.count)
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
            for (slot, found) in zip(members, body(images, members)) { results[slot] = found }
        }
        return results.map { $0! }
    }
}

struct PaddedSize: Hashable {
    var width: Int
    var height: Int
}
