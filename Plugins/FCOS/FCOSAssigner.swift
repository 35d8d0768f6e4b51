import MixKit

/// The grid points of one feature level: the centre of every cell,
/// `((x + 0.5) * stride, (y + 0.5) * stride)`, row-major (mmdet's
/// `MlvlPointGenerator` with offset 0.5).
public struct LevelPoints: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var stride: Int

    public init(height: Int, width: Int, stride: Int) {
        self.height = height
        self.width = width
        self.stride = stride
    }

    public var count: Int { height * width }

    /// The point of cell `index` (row-major).
    public func point(_ index: Int) -> (x: Float, y: Float) {
        (
            Float(index % width) * Float(stride) + Float(stride) / 2,
            Float(index / width) * Float(stride) + Float(stride) / 2
        )
    }
}

/// FCOS's target assignment (Tian et al. 2019, as mmdet's `FCOSHead.get_targets`).
///
/// Public only so that the repository's tests (built in release, where
/// `@testable import` is not available) can check it; the host reaches the
/// plugin through its registered descriptor alone.
///
/// A point of level `l` is a candidate for a box when it lies inside the box
/// (or, with centre sampling, inside the box's centre region of half-side
/// `stride * radius`, clipped to the box), and the largest of its distances
/// to the box's sides `max(l, t, r, b)` falls in the level's range
/// `lower <= max <= upper`. Among candidate boxes the one with the smallest
/// area wins (ties: the box listed first). Other points are background,
/// except that a background point inside an ignored region (a crowd box) is
/// left out of the classification loss.
///
/// ```swift
/// let assigner = FCOSAssigner(ranges: FCOSAssigner.ranges(boundaries: [64, 128, 256, 512]))
/// let a = assigner.assign(levels: levels, boxes: target.boxes, labels: target.labels)
/// a.labels[i]          // class, FCOSAssigner.background or FCOSAssigner.ignored
/// ```
public struct FCOSAssigner: Sendable {
    /// Label of a background point.
    public static let background = -1
    /// Label of a point left out of the classification loss.
    public static let ignored = -2

    /// Per level: the inclusive range of `max(l, t, r, b)` it regresses.
    public var ranges: [ClosedRange<Float>]
    public var centerSampling: Bool
    public var centerSampleRadius: Float

    public init(ranges: [ClosedRange<Float>], centerSampling: Bool = false, centerSampleRadius: Float = 1.5) {
        self.ranges = ranges
        self.centerSampling = centerSampling
        self.centerSampleRadius = centerSampleRadius
    }

    /// FCOS's ranges from the boundaries between levels: `[64, 128, 256, 512]` gives
    /// `-1...64, 64...128, 128...256, 256...512, 512...inf` (mmdet's `regress_ranges`).
    public static func ranges(boundaries: [Float]) -> [ClosedRange<Float>] {
        let lows = [Float(-1)] + boundaries
        let highs = boundaries + [Float.greatestFiniteMagnitude]
        return zip(lows, highs).map { $0...$1 }
    }

    /// What the assignment gives every point, levels concatenated in order.
    public struct Assignment: Equatable, Sendable {
        /// Class index of a positive point, ``FCOSAssigner/background`` or ``FCOSAssigner/ignored``.
        public var labels: [Int]
        /// The assigned box's index per point, -1 for other points.
        public var boxIndices: [Int]
        /// Distances `(left, top, right, bottom)` in pixels to the assigned box, 4 per point (0 elsewhere).
        public var distances: [Float]
        /// Centre-ness target `sqrt(min(l,r)/max(l,r) * min(t,b)/max(t,b))` per point (0 elsewhere).
        public var centerness: [Float]

        public var positiveCount: Int { labels.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
    }

    /// Assigns every point of `levels` to one of `boxes` (with class `labels`) or to the background.
    public func assign(
        levels: [LevelPoints], boxes: [BoundingBox], labels: [Int], ignoredRegions: [BoundingBox] = []
    ) -> Assignment {
        precondition(
            levels.count == ranges.count,
            "FCOSAssigner: \(levels.count) feature levels but \(ranges.count) regression ranges")
        precondition(boxes.count == labels.count, "FCOSAssigner: \(boxes.count) boxes but \(labels.count) labels")
        let total = levels.reduce(0) { $0 + $1.count }
        var result = Assignment(
            labels: [Int](repeating: Self.background, count: total), boxIndices: [Int](repeating: -1, count: total),
            distances: [Float](repeating: 0, count: total * 4), centerness: [Float](repeating: 0, count: total))
        var offset = 0
        for (level, grid) in levels.enumerated() {
            let range = ranges[level]
            let radius = Float(grid.stride) * centerSampleRadius
            for p in 0..<grid.count {
                let (x, y) = grid.point(p)
                var best = -1
                var bestArea = Float.infinity
                for (k, box) in boxes.enumerated() {
                    let l = x - box.x1
                    let t = y - box.y1
                    let r = box.x2 - x
                    let b = box.y2 - y
                    let inside: Bool
                    if centerSampling {
                        let cx = (box.x1 + box.x2) / 2
                        let cy = (box.y1 + box.y2) / 2
                        let region = BoundingBox(
                            x1: max(cx - radius, box.x1), y1: max(cy - radius, box.y1), x2: min(cx + radius, box.x2),
                            y2: min(cy + radius, box.y2))
                        inside = min(x - region.x1, y - region.y1, region.x2 - x, region.y2 - y) > 0
                    } else {
                        inside = min(l, t, r, b) > 0
                    }
                    guard inside, range.contains(max(l, t, r, b)) else { continue }
                    let area = box.width * box.height
                    if area < bestArea {
                        bestArea = area
                        best = k
                    }
                }
                let i = offset + p
                if best >= 0 {
                    let box = boxes[best]
                    let d = [x - box.x1, y - box.y1, box.x2 - x, box.y2 - y]
                    result.labels[i] = labels[best]
                    result.boxIndices[i] = best
                    for j in 0..<4 { result.distances[4 * i + j] = d[j] }
                    let horizontal = min(d[0], d[2]) / max(d[0], d[2])
                    let vertical = min(d[1], d[3]) / max(d[1], d[3])
                    result.centerness[i] = (horizontal * vertical).squareRoot()
                } else if ignoredRegions.contains(where: { $0.contains(x: x, y: y) }) {
                    result.labels[i] = Self.ignored
                }
            }
            offset += grid.count
        }
        return result
    }
}
