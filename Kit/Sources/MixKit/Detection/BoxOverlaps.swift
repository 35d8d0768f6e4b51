/// The pairwise overlaps of two box lists, mmdet's `bbox_overlaps` (float32):
/// `intersection / max(union, eps)` in ``Mode/iou`` mode, and
/// `intersection / max(area(row box), eps)` in ``Mode/iof`` (intersection over
/// foreground) mode, which `MaxIoUAssigner` uses to find priors that lie in
/// ignored (crowd) regions.
///
/// ```swift
/// let overlaps = BoxOverlaps(truth, anchors)       // truth.count x anchors.count
/// overlaps[2, 17]                                   // IoU of truth box 2 and anchor 17
/// ```
public struct BoxOverlaps: Sendable, Equatable {
    /// How the intersection is normalised.
    public enum Mode: String, Sendable {
        /// Intersection over union.
        case iou
        /// Intersection over the area of the row's box.
        case iof
    }

    public let rows: Int
    public let columns: Int
    /// Row-major: `values[r * columns + c]` is the overlap of `rowBoxes[r]` and `columnBoxes[c]`.
    public let values: [Float]

    /// mmdet's lower bound on the denominator.
    public static let eps: Float = 1e-6

    public init(_ rowBoxes: [BoundingBox], _ columnBoxes: [BoundingBox], mode: Mode = .iou) {
        let cols = columnBoxes.count
        rows = rowBoxes.count
        columns = cols
        var values = [Float](repeating: 0, count: rowBoxes.count * cols)
        let columnAreas = columnBoxes.map { ($0.x2 - $0.x1) * ($0.y2 - $0.y1) }
        let eps = Self.eps
        values.withUnsafeMutableBufferPointer { out in
            for (r, a) in rowBoxes.enumerated() {
                let rowArea = (a.x2 - a.x1) * (a.y2 - a.y1)
                for (c, b) in columnBoxes.enumerated() {
                    let w = max(min(a.x2, b.x2) - max(a.x1, b.x1), 0)
                    let h = max(min(a.y2, b.y2) - max(a.y1, b.y1), 0)
                    let overlap = w * h
                    let union = mode == .iou ? rowArea + columnAreas[c] - overlap : rowArea
                    out[r * cols + c] = overlap / max(union, eps)
                }
            }
        }
        self.values = values
    }

    /// The overlap of row box `row` and column box `column`.
    public subscript(row: Int, column: Int) -> Float { values[row * columns + column] }
}
