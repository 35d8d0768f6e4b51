import Foundation

/// A binary mask of a `height` x `width` image in COCO's run-length encoding,
/// with the algorithms of pycocotools (`common/maskApi.c`) ported operation
/// for operation, so areas, boxes, merges and IoUs equal pycocotools' exactly.
///
/// The pixels are read column by column (Fortran order: pixel `(y, x)` is
/// number `x * height + y`) and `counts` alternate between background and
/// foreground, starting with background (a mask whose first pixel is set
/// starts with a count of 0). The counts add up to `height * width`.
///
/// ```swift
/// let square = RunLengthMask(polygon: [10, 10, 30, 10, 30, 30, 10, 30], height: 48, width: 64)
/// square.area                     // pixels inside
/// square.compressedCounts         // "..." as pycocotools' `counts` string
/// let back = try RunLengthMask(compressedCounts: square.compressedCounts, height: 48, width: 64)
/// RunLengthMask.iou([back], [square], crowd: [false])   // [[1.0]]
/// ```
public struct RunLengthMask: Equatable, Sendable {
    public var height: Int
    public var width: Int
    /// Run lengths, background first, column-major.
    public var counts: [UInt32]

    /// A mask from run lengths as they are (see ``init(compressedCounts:height:width:)``
    /// and ``validated(height:width:counts:)`` for input that must be checked).
    public init(height: Int, width: Int, counts: [UInt32]) {
        self.height = height
        self.width = width
        self.counts = counts
    }

    /// What is wrong with a mask read from a file.
    public struct FormatError: Error, CustomStringConvertible, Equatable, Sendable {
        public var message: String
        public var description: String { message }
    }

    /// Run lengths from a file: the size must be positive and the counts must
    /// add up to `height * width` (pycocotools does not check; it reads garbage
    /// or past its buffer otherwise).
    public static func validated(height: Int, width: Int, counts: [UInt32]) throws -> RunLengthMask {
        guard height >= 0, width >= 0, height.multipliedReportingOverflow(by: width).overflow == false,
            height * width <= Int(UInt32.max)
        else {
            throw FormatError(message: "size [\(height), \(width)] is not a valid image size [height, width]")
        }
        let total = counts.reduce(0) { $0 + Int($1) }
        guard total == height * width else {
            throw FormatError(
                message: "the run lengths add up to \(total) pixels, but size [\(height), \(width)] has "
                    + "\(height * width); counts must cover the image exactly, column by column")
        }
        return RunLengthMask(height: height, width: width, counts: counts)
    }

    // MARK: Encoding and decoding

    /// pycocotools' `encode` of a binary mask given row-major (`mask[y * width + x]`,
    /// nonzero = foreground).
    public init(encoding mask: [UInt8], height: Int, width: Int) {
        precondition(
            mask.count == height * width, "RunLengthMask: \(mask.count) pixels for a \(height)x\(width) mask")
        var counts: [UInt32] = []
        var previous = false
        var run: UInt32 = 0
        for x in 0..<width {
            for y in 0..<height {
                let value = mask[y * width + x] != 0
                if value != previous {
                    counts.append(run)
                    run = 0
                    previous = value
                }
                run += 1
            }
        }
        counts.append(run)
        self.init(height: height, width: width, counts: counts)
    }

    /// The mask as row-major bytes (`1` foreground, `0` background), pycocotools' `decode`.
    public func decoded() -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: height * width)
        var position = 0
        var value: UInt8 = 0
        for count in counts {
            let end = min(position + Int(count), height * width)
            if value == 1 && position < end {
                for p in position..<end { mask[(p % height) * width + p / height] = 1 }
            }
            position += Int(count)
            value ^= 1
        }
        return mask
    }

    /// pycocotools' compressed `counts` string (`rleToString`): each count, minus
    /// the count two before it from the fourth on, in 5-bit groups, low first,
    /// as characters 48...111 (bit 0x20: more groups follow).
    public var compressedCounts: String {
        var bytes: [UInt8] = []
        for (i, count) in counts.enumerated() {
            var x = Int64(count)
            if i > 2 { x -= Int64(counts[i - 2]) }
            var more = true
            while more {
                var c = x & 0x1f
                x >>= 5
                more = c & 0x10 != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                bytes.append(UInt8(c + 48))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a compressed `counts` string (pycocotools' `rleFrString`) of a
    /// `height` x `width` mask, checking every character and the total.
    public init(compressedCounts string: String, height: Int, width: Int) throws {
        var counts: [UInt32] = []
        let bytes = Array(string.utf8)
        var p = 0
        while p < bytes.count {
            var x: Int64 = 0
            var k: Int64 = 0
            var more = true
            while more {
                guard p < bytes.count else {
                    throw FormatError(message: "the counts string ends in the middle of a run length")
                }
                let c = Int64(bytes[p]) - 48
                guard (0...63).contains(c) else {
                    throw FormatError(
                        message: "character \(p) of the counts string is not one of COCO's ('0' to 'o')")
                }
                x |= (c & 0x1f) << (5 * k)
                more = c & 0x20 != 0
                p += 1
                k += 1
                if !more && c & 0x10 != 0 { x |= -1 << (5 * k) }
                guard k <= 7 else { throw FormatError(message: "a run length of the counts string is too long") }
            }
            if counts.count > 2 { x += Int64(counts[counts.count - 2]) }
            guard (0...Int64(UInt32.max)).contains(x) else {
                throw FormatError(message: "run length \(counts.count) of the counts string is negative or too large")
            }
            counts.append(UInt32(x))
        }
        self = try Self.validated(height: height, width: width, counts: counts)
    }

    // MARK: Polygons and boxes

    /// pycocotools' `rleFrPoly`: the polygon `[x0, y0, x1, y1, ...]` rasterised
    /// as COCO does it (the outline upsampled by 5 and walked, then a pixel is
    /// inside when its centre is). Coordinates must be finite.
    public init(polygon xy: [Double], height: Int, width: Int) {
        let k = xy.count / 2
        precondition(k >= 1, "RunLengthMask: a polygon needs at least one point")
        let scale = 5.0
        var x = (0..<k).map { Int(scale * xy[2 * $0] + 0.5) }
        var y = (0..<k).map { Int(scale * xy[2 * $0 + 1] + 0.5) }
        x.append(x[0])
        y.append(y[0])
        // Points densely along the whole outline.
        var u: [Int] = []
        var v: [Int] = []
        for j in 0..<k {
            var xs = x[j]
            var xe = x[j + 1]
            var ys = y[j]
            var ye = y[j + 1]
            let dx = abs(xe - xs)
            let dy = abs(ys - ye)
            let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
            if flip {
                swap(&xs, &xe)
                swap(&ys, &ye)
            }
            if dx == 0 && dy == 0 {
                // C computes 0/0 here; the point is never read (its neighbours share its x).
                u.append(xs)
                v.append(ys)
                continue
            }
            let s = dx >= dy ? Double(ye - ys) / Double(dx) : Double(xe - xs) / Double(dy)
            if dx >= dy {
                for d in 0...dx {
                    let t = flip ? dx - d : d
                    u.append(t + xs)
                    v.append(Int(Double(ys) + s * Double(t) + 0.5))
                }
            } else {
                for d in 0...dy {
                    let t = flip ? dy - d : d
                    v.append(t + ys)
                    u.append(Int(Double(xs) + s * Double(t) + 0.5))
                }
            }
        }
        // Points where the outline crosses a pixel-centre column, downsampled.
        var boundary: [UInt32] = []
        for j in 1..<max(u.count, 1) where u[j] != u[j - 1] {
            var xd = Double(u[j] < u[j - 1] ? u[j] : u[j] - 1)
            xd = (xd + 0.5) / scale - 0.5
            if xd.rounded(.down) != xd || xd < 0 || xd > Double(width - 1) { continue }
            var yd = Double(v[j] < v[j - 1] ? v[j] : v[j - 1])
            yd = (yd + 0.5) / scale - 0.5
            if yd < 0 {
                yd = 0
            } else if yd > Double(height) {
                yd = Double(height)
            }
            yd = yd.rounded(.up)
            boundary.append(UInt32(truncatingIfNeeded: Int(xd) * height + Int(yd)))
        }
        boundary.append(UInt32(truncatingIfNeeded: height * width))
        boundary.sort()
        var previous: UInt32 = 0
        for j in boundary.indices {
            let t = boundary[j]
            boundary[j] = t &- previous
            previous = t
        }
        // Zero-length runs merge their neighbours.
        var counts: [UInt32] = [boundary[0]]
        var j = 1
        while j < boundary.count {
            if boundary[j] > 0 {
                counts.append(boundary[j])
                j += 1
            } else {
                j += 1
                if j < boundary.count {
                    counts[counts.count - 1] &+= boundary[j]
                    j += 1
                }
            }
        }
        self.init(height: height, width: width, counts: counts)
    }

    /// pycocotools' `rleFrBbox`: the box `[x, y, width, height]` as the polygon of its corners.
    public init(box: COCOBox, height: Int, width: Int) {
        let (xs, ys) = (box.x, box.y)
        let (xe, ye) = (xs + box.width, ys + box.height)
        self.init(polygon: [xs, ys, xs, ye, xe, ye, xe, ys], height: height, width: width)
    }

    // MARK: Measures

    /// Foreground pixels (pycocotools' `area`).
    public var area: Int {
        stride(from: 1, to: counts.count, by: 2).reduce(0) { $0 + Int(counts[$1]) }
    }

    /// pycocotools' `toBbox`: `[x, y, width, height]` of the foreground's
    /// bounding pixels (all zeros for an empty mask).
    public var boundingBox: COCOBox {
        let h = UInt32(truncatingIfNeeded: height)
        let m = counts.count / 2 * 2
        guard m > 0, h > 0 else { return COCOBox(x: 0, y: 0, width: 0, height: 0) }
        var xs = UInt32(truncatingIfNeeded: width)
        var ys = h
        var xe: UInt32 = 0
        var ye: UInt32 = 0
        var cc: UInt32 = 0
        var xp: UInt32 = 0
        for j in 0..<m {
            cc &+= counts[j]
            let t = cc &- UInt32(j % 2)
            let y = t % h
            let x = (t &- y) / h
            if j % 2 == 0 {
                xp = x
            } else if xp < x {
                ys = 0
                ye = h - 1
            }
            xs = min(xs, x)
            xe = max(xe, x)
            ys = min(ys, y)
            ye = max(ye, y)
        }
        return COCOBox(x: Double(xs), y: Double(ys), width: Double(xe &- xs &+ 1), height: Double(ye &- ys &+ 1))
    }

    // MARK: Combining

    /// pycocotools' `merge`: the union (or with `intersect` the intersection) of
    /// masks of one size; masks of different sizes give an empty 0 x 0 mask, as there.
    public static func merge(_ masks: [RunLengthMask], intersect: Bool = false) -> RunLengthMask {
        guard let first = masks.first else { return RunLengthMask(height: 0, width: 0, counts: []) }
        var counts = first.counts
        for other in masks.dropFirst() {
            guard other.height == first.height, other.width == first.width else {
                return RunLengthMask(height: 0, width: 0, counts: [])
            }
            // Stretches of equal combined value join into one run (rleMerge's loop).
            var merged: [UInt32] = []
            var run: UInt32 = 0
            var value = false
            pairRuns(counts, other.counts) { length, a, b in
                let combined = intersect ? a && b : a || b
                if combined != value {
                    merged.append(run)
                    run = 0
                    value = combined
                }
                run &+= length
            }
            merged.append(run)
            counts = merged
        }
        return RunLengthMask(height: first.height, width: first.width, counts: counts)
    }

    /// pycocotools' `iou` of masks: `ious[d][g]` for detection `d` and truth `g`,
    /// intersection over union, or over the detection's area when `crowd[g]`.
    /// Pairs whose bounding boxes do not overlap are 0 without looking at the
    /// pixels; pairs of different sizes are -1 (both as pycocotools).
    public static func iou(_ detections: [RunLengthMask], _ truth: [RunLengthMask], crowd: [Bool]) -> [[Double]] {
        precondition(
            crowd.count == truth.count, "RunLengthMask.iou: \(crowd.count) crowd flags for \(truth.count) masks")
        let detectionBoxes = detections.map(\.boundingBox)
        let truthBoxes = truth.map(\.boundingBox)
        return detections.indices.map { d in
            truth.indices.map { g in
                let boxIoU = boxIoU(detectionBoxes[d], truthBoxes[g], crowd: crowd[g])
                guard boxIoU > 0 else { return boxIoU }
                let (dt, gt) = (detections[d], truth[g])
                guard dt.height == gt.height, dt.width == gt.width else { return -1 }
                var intersection: UInt32 = 0
                var union: UInt32 = 0
                pairRuns(dt.counts, gt.counts) { run, a, b in
                    if a || b { union &+= run }
                    if a && b { intersection &+= run }
                }
                if intersection == 0 {
                    union = 1
                } else if crowd[g] {
                    union = UInt32(truncatingIfNeeded: dt.area)
                }
                return Double(intersection) / Double(union)
            }
        }
    }

    /// rleMerge's and rleIou's walk over two run-length lists: every stretch where
    /// both stay constant, with its length and the two values.
    private static func pairRuns(_ a: [UInt32], _ b: [UInt32], _ body: (UInt32, Bool, Bool) -> Void) {
        let aa = a.isEmpty ? [0] : a
        let bb = b.isEmpty ? [0] : b
        var ca = aa[0]
        var cb = bb[0]
        var va = false
        var vb = false
        var ia = 1
        var ib = 1
        var remaining: UInt32 = 1
        while remaining > 0 {
            let c = min(ca, cb)
            body(c, va, vb)
            remaining = 0
            ca -= c
            if ca == 0 && ia < aa.count {
                ca = aa[ia]
                ia += 1
                va.toggle()
            }
            remaining &+= ca
            cb -= c
            if cb == 0 && ib < bb.count {
                cb = bb[ib]
                ib += 1
                vb.toggle()
            }
            remaining &+= cb
            if c == 0 && ((ca == 0 && ia >= aa.count) || (cb == 0 && ib >= bb.count)) && remaining > 0 { break }
        }
    }

    /// pycocotools' `bbIou` of `[x, y, width, height]` boxes, same operation order.
    static func boxIoU(_ d: COCOBox, _ g: COCOBox, crowd: Bool) -> Double {
        let w = min(d.width + d.x, g.width + g.x) - max(d.x, g.x)
        if w <= 0 { return 0 }
        let h = min(d.height + d.y, g.height + g.y) - max(d.y, g.y)
        if h <= 0 { return 0 }
        let intersection = w * h
        let detectionArea = d.width * d.height
        return intersection / (crowd ? detectionArea : detectionArea + g.width * g.height - intersection)
    }
}
