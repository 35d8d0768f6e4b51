/// An axis-aligned box by its corners, in pixels of the network input
/// (`x2 >= x1`, `y2 >= y1`); areas and IoU without a +1 offset (mmcv's convention).
///
/// ```swift
/// let a = BoundingBox(x1: 0, y1: 0, x2: 10, y2: 10)
/// a.iou(BoundingBox(x1: 5, y1: 0, x2: 15, y2: 10))   // 1/3
/// ```
public struct BoundingBox: Equatable, Sendable, CustomStringConvertible {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var area: Float { max(width, 0) * max(height, 0) }

    /// Intersection over union; 0 when the union is empty.
    public func iou(_ other: BoundingBox) -> Float {
        let w = min(x2, other.x2) - max(x1, other.x1)
        let h = min(y2, other.y2) - max(y1, other.y1)
        guard w > 0, h > 0 else { return 0 }
        let intersection = w * h
        let union = area + other.area - intersection
        return union > 0 ? intersection / union : 0
    }

    /// The box clipped to `[0, width] x [0, height]`.
    public func clipped(width: Float, height: Float) -> BoundingBox {
        BoundingBox(
            x1: min(max(x1, 0), width), y1: min(max(y1, 0), height), x2: min(max(x2, 0), width),
            y2: min(max(y2, 0), height))
    }

    /// Whether the point lies strictly inside the box.
    public func contains(x: Float, y: Float) -> Bool { x > x1 && x < x2 && y > y1 && y < y2 }

    public var description: String { "[\(x1), \(y1), \(x2), \(y2)]" }
}

/// One detected object: a box, a confidence in [0, 1] and a class index.
public struct Detection: Equatable, Sendable {
    public var box: BoundingBox
    public var score: Float
    public var label: Int

    public init(box: BoundingBox, score: Float, label: Int) {
        self.box = box
        self.score = score
        self.label = label
    }
}

/// Greedy non-maximum suppression, as mmcv's `nms` / `batched_nms`.
///
/// Boxes are visited by descending score; equal scores keep their input order
/// (a stable sort, so results do not depend on the sort implementation). A
/// box is dropped when its IoU with an already kept box of the same class is
/// strictly greater than the threshold.
///
/// ```swift
/// let kept = NonMaximumSuppression.select(candidates, iouThreshold: 0.5, maxCount: 100)
/// ```
public enum NonMaximumSuppression {
    /// Indices of the kept boxes, highest score first, ignoring classes.
    public static func indices(boxes: [BoundingBox], scores: [Float], iouThreshold: Float) -> [Int] {
        precondition(boxes.count == scores.count, "NMS: \(boxes.count) boxes but \(scores.count) scores")
        let order = boxes.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        var kept: [Int] = []
        for i in order where !kept.contains(where: { boxes[$0].iou(boxes[i]) > iouThreshold }) {
            kept.append(i)
        }
        return kept
    }

    /// Indices kept by NMS within each class, merged by descending score (ties by index).
    public static func indices(boxes: [BoundingBox], scores: [Float], labels: [Int], iouThreshold: Float) -> [Int] {
        precondition(boxes.count == labels.count, "NMS: \(boxes.count) boxes but \(labels.count) labels")
        var byClass: [Int: [Int]] = [:]
        for (i, label) in labels.enumerated() { byClass[label, default: []].append(i) }
        var kept: [Int] = []
        for (_, members) in byClass {
            let local = indices(
                boxes: members.map { boxes[$0] }, scores: members.map { scores[$0] }, iouThreshold: iouThreshold)
            kept += local.map { members[$0] }
        }
        return kept.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
    }

    /// Per-class NMS, then the `maxCount` highest-scoring survivors (mmdet's `multiclass_nms`
    /// after the score threshold).
    public static func select(_ detections: [Detection], iouThreshold: Float, maxCount: Int) -> [Detection] {
        let kept = indices(
            boxes: detections.map(\.box), scores: detections.map(\.score), labels: detections.map(\.label),
            iouThreshold: iouThreshold)
        return kept.prefix(max(maxCount, 0)).map { detections[$0] }
    }
}
