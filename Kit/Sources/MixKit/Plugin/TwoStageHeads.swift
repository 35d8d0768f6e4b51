// Component protocols of a two-stage detector (Mask R-CNN, SDK 2.6): a region
// proposal network and RoI heads for boxes and masks, which the host composes.

/// Where one image of a padded batch lies (mmdetection's `img_shape` and `pad_shape`).
public struct DetectionImageShape: Equatable, Sendable {
    /// The resized image at the top left of the batch: predictions are clipped to it.
    public var size: ImageSize
    /// The image padded to the size divisor: anchors beyond it are not trained.
    public var paddedSize: ImageSize

    public init(size: ImageSize, paddedSize: ImageSize) {
        self.size = size
        self.paddedSize = paddedSize
    }
}

/// A region proposal network (mmdet's `RPNHead`): feature maps (usually an FPN's)
/// to objectness and box deltas per anchor, its training loss and its proposals.
///
/// ```swift
/// let (loss, proposals) = rpn.loss(features, targets: targets, images: shapes)   // training
/// let boxes = withNoGrad { rpn.proposals(features, images: shapes) }          // inference
/// ```
public protocol RegionProposalHead: Module {
    /// The losses (`loss_rpn_cls`, `loss_rpn_bbox`) and each image's training proposals
    /// (the train settings: e.g. top 2000 per level, NMS 0.7, 1000 kept), which carry no gradient.
    func loss(_ features: [FeatureMap], targets: [DetectionTarget], images: [DetectionImageShape])
        -> (loss: HeadLoss, proposals: [[BoundingBox]])
    /// Each image's proposals at inference (the test settings), best first.
    func proposals(_ features: [FeatureMap], images: [DetectionImageShape]) -> [[BoundingBox]]
}

/// A RoI box head (mmdet's `Shared2FCBBoxHead` inside `StandardRoIHead`): proposals
/// to class scores and class-specific boxes.
///
/// ```swift
/// let (loss, samples) = box.loss(features, proposals: proposals, targets: targets)
/// let detections = withNoGrad { box.predict(features, proposals: proposals, images: shapes, settings: .init()) }
/// ```
public protocol RoIBoxHead: Module {
    /// Object classes (without background).
    var classCount: Int { get }
    /// Assigns and samples each image's proposals (plus its truth boxes) against
    /// its targets, and returns the classification and regression losses with the
    /// sampling, which the mask head trains on.
    func loss(_ features: [FeatureMap], proposals: [[BoundingBox]], targets: [DetectionTarget])
        -> (loss: HeadLoss, samples: [SamplingResult])
    /// Detections per image after score threshold, per-class NMS and top-k, best first;
    /// boxes are clipped to ``DetectionImageShape/size``.
    func predict(
        _ features: [FeatureMap], proposals: [[BoundingBox]], images: [DetectionImageShape],
        settings: DetectionSettings
    ) -> [[Detection]]
}

/// A RoI mask head (mmdet's `FCNMaskHead`): a small mask per RoI and class.
///
/// ```swift
/// let loss = mask.loss(features, samples: samples, masks: masks)   // one InstanceMasks per image
/// let probabilities = withNoGrad { mask.predict(features, detections: detections) }
/// ```
public protocol RoIMaskHead: Module {
    /// The side of the predicted masks (28).
    var maskSize: Int { get }
    /// The mask loss on the sampled positives of every image, against the image's
    /// instance masks (one per truth box, in the targets' order) cropped and resized
    /// to each positive's box. The masks are a parameter of their own, not a field of
    /// ``DetectionTarget``, so that the target keeps the layout 2.3-2.5 plugins were built with.
    func loss(_ features: [FeatureMap], samples: [SamplingResult], masks: [InstanceMasks]) -> HeadLoss
    /// For every detection of every image, the `maskSize x maskSize` foreground
    /// probabilities (row-major) of its class, in the detection's box.
    func predict(_ features: [FeatureMap], detections: [[Detection]]) -> [[[Float]]]
}
