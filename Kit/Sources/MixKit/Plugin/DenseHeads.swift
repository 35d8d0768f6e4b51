// Component protocols for dense prediction: detection and segmentation heads.

/// A loss with its parts, for logging: `total` is what the optimiser minimises.
public struct HeadLoss {
    public var total: Tensor
    /// Named parts of the loss (already weighted), as plain numbers.
    public var terms: [String: Double]

    public init(total: Tensor, terms: [String: Double] = [:]) {
        self.total = total
        self.terms = terms
    }
}

/// The height and width of an image in pixels.
public struct ImageSize: Equatable, Sendable {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }
}

/// The annotations of one training image, in the coordinates of the network input.
public struct DetectionTarget: Equatable, Sendable {
    public var boxes: [BoundingBox]
    /// Class index (0..<classCount) of each box.
    public var labels: [Int]
    /// Regions (COCO crowd boxes) whose unassigned points do not count as background.
    public var ignoredRegions: [BoundingBox]

    public init(boxes: [BoundingBox], labels: [Int], ignoredRegions: [BoundingBox] = []) {
        precondition(boxes.count == labels.count, "DetectionTarget: \(boxes.count) boxes but \(labels.count) labels")
        self.boxes = boxes
        self.labels = labels
        self.ignoredRegions = ignoredRegions
    }
}

/// Post-processing of dense detections (mmdet's `test_cfg`).
public struct DetectionSettings: Equatable, Sendable {
    /// Candidates kept per level before NMS, by score (`nms_pre`).
    public var preNMSTopK: Int
    /// Detections scoring below this are dropped (`score_thr`).
    public var scoreThreshold: Float
    /// Per-class NMS IoU threshold (`nms.iou_threshold`).
    public var iouThreshold: Float
    /// Detections kept per image after NMS (`max_per_img`).
    public var maxPerImage: Int

    public init(preNMSTopK: Int = 1000, scoreThreshold: Float = 0.05, iouThreshold: Float = 0.5, maxPerImage: Int = 100)
    {
        self.preNMSTopK = preNMSTopK
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        self.maxPerImage = maxPerImage
    }
}

/// A dense detection head (FCOS family): feature maps (usually a neck's) to
/// a training loss, or to scored boxes at inference.
///
/// Boxes are in the pixels of the network input; the host maps them back to
/// the original image. A batch is padded: `imageSizes` gives each image's valid
/// region (the resized image at the top left), to which predictions are clipped.
///
/// ```swift
/// let loss = head.loss(neck(backbone.features(images, mixing: nil)), targets: targets)
/// loss.total.backward()
/// let detections = withNoGrad { head.predict(features, imageSizes: sizes, settings: DetectionSettings()) }
/// ```
public protocol DetectionHead: Module {
    /// Object classes (without background).
    var classCount: Int { get }
    /// The training loss for a batch; `targets[i]` belongs to image `i`.
    func loss(_ features: [FeatureMap], targets: [DetectionTarget]) -> HeadLoss
    /// Detections per image after score threshold, per-class NMS and top-k, best first.
    func predict(_ features: [FeatureMap], imageSizes: [ImageSize], settings: DetectionSettings) -> [[Detection]]
}

/// Per-pixel class labels of a batch, `[B, height, width]` row-major.
public struct SegmentationLabels: Sendable {
    public var values: [Int]
    public var batch: Int
    public var height: Int
    public var width: Int
    /// Pixels with this label count neither in the loss nor in metrics (255).
    public var ignoreIndex: Int

    public init(values: [Int], batch: Int, height: Int, width: Int, ignoreIndex: Int = 255) {
        precondition(
            values.count == batch * height * width,
            "SegmentationLabels: \(values.count) values for \(batch) x \(height) x \(width)")
        self.values = values
        self.batch = batch
        self.height = height
        self.width = width
        self.ignoreIndex = ignoreIndex
    }
}

/// A semantic segmentation head (a decoder such as UperNet): backbone feature
/// maps to per-pixel class logits.
///
/// ```swift
/// let loss = head.loss(backbone.features(images, mixing: nil), labels: labels)
/// let logits = withNoGrad { head.logits(features) }   // [B, classes, H/4, W/4]
/// let full = interpolate(logits, height: H, width: W, mode: .bilinear)
/// ```
public protocol SegmentationHead: Module {
    /// Classes of the label maps (without the ignore index).
    var classCount: Int { get }
    /// Logits `[B, classCount, h, w]` at the resolution of the first feature map.
    func logits(_ features: [FeatureMap]) -> Tensor
    /// The training loss: pixel cross-entropy of the logits resized to the labels'
    /// size (plus any auxiliary terms the head has).
    func loss(_ features: [FeatureMap], labels: SegmentationLabels) -> HeadLoss
}

extension FeatureMap {
    /// A feature map from an `[B, C, H, W]` tensor (a copy into the token layout).
    ///
    /// ```swift
    /// let p3 = FeatureMap(nchw: conv(x), stride: 8)
    /// ```
    public init(nchw: Tensor, stride: Int) {
        precondition(nchw.rank == 4, "FeatureMap(nchw:): expects [B, C, H, W], got \(nchw.shape)")
        let (b, c, h, w) = (nchw.shape[0], nchw.shape[1], nchw.shape[2], nchw.shape[3])
        self.init(tensor: nchw.permuted([0, 2, 3, 1]).reshaped([b, h * w, c]), height: h, width: w, stride: stride)
    }
}

/// Pixel cross-entropy of `logits` `[B, C, H, W]` against `labels` of the same
/// height and width, averaged over the pixels whose label is not the ignore index
/// (PyTorch's `F.cross_entropy(..., ignore_index=255)`).
///
/// ```swift
/// let loss = pixelCrossEntropy(interpolate(logits, height: 64, width: 64), labels: labels)
/// ```
public func pixelCrossEntropy(_ logits: Tensor, labels: SegmentationLabels) -> Tensor {
    precondition(
        logits.rank == 4 && logits.shape[0] == labels.batch && logits.shape[2] == labels.height
            && logits.shape[3] == labels.width,
        "pixelCrossEntropy: logits \(logits.shape) do not fit labels \(labels.batch) x \(labels.height) x \(labels.width)"
    )
    let classes = logits.shape[1]
    let rows = logits.permuted([0, 2, 3, 1]).reshaped([-1, classes])
    return crossEntropy(rows, labels: labels.values, ignoreIndex: labels.ignoreIndex)
}
