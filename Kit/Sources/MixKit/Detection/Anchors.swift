/// Anchor boxes of a feature pyramid, as mmdet's `AnchorGenerator` (v2 and
/// later: float corners, not rounded; centre offset 0, so the anchors of cell
/// `(x, y)` are centred on the pixel `(x * stride, y * stride)`).
///
/// Level `l` has base size `strides[l]`; its base anchors are, ratio by ratio
/// (`ratio = height / width`) and within a ratio scale by scale:
/// `w = base * (1 / sqrt(ratio)) * scale`, `h = base * sqrt(ratio) * scale`,
/// corners `centre -+ 0.5 * (w, h)`, computed in float32 in torch's order.
/// Anchors of a `height` x `width` map are ordered cell by cell (row-major),
/// the base anchors of a cell together: anchor `(y * width + x) * A + a`,
/// the order of an RPN output `[A, H, W]` permuted to `[H, W, A]` and flattened.
///
/// ```swift
/// let generator = AnchorGenerator.maskRCNN                   // strides 4...64, ratios 0.5/1/2, scale 8
/// let anchors = generator.anchors(level: 0, height: 32, width: 48)
/// let valid = generator.validFlags(level: 0, height: 32, width: 48, paddedHeight: 120, paddedWidth: 190)
/// ```
public struct AnchorGenerator: Sendable, Equatable {
    public var strides: [Int]
    public var ratios: [Float]
    public var scales: [Float]
    public var centerOffset: Float

    public init(strides: [Int], ratios: [Float], scales: [Float], centerOffset: Float = 0) {
        precondition(!strides.isEmpty && strides.allSatisfy { $0 >= 1 }, "AnchorGenerator: strides \(strides)")
        precondition(
            !ratios.isEmpty && ratios.allSatisfy { $0 > 0 } && !scales.isEmpty && scales.allSatisfy { $0 > 0 },
            "AnchorGenerator: ratios \(ratios) and scales \(scales) must be positive and not empty")
        precondition((0...1).contains(centerOffset), "AnchorGenerator: center offset \(centerOffset) not in [0, 1]")
        self.strides = strides
        self.ratios = ratios
        self.scales = scales
        self.centerOffset = centerOffset
    }

    /// mmdet's Mask R-CNN FPN RPN anchors: strides [4, 8, 16, 32, 64], ratios [0.5, 1, 2], scale 8.
    public static let maskRCNN = AnchorGenerator(strides: [4, 8, 16, 32, 64], ratios: [0.5, 1, 2], scales: [8])

    /// The number of levels.
    public var levels: Int { strides.count }

    /// Anchors per feature-map cell (`A`): ratios x scales.
    public var anchorsPerCell: Int { ratios.count * scales.count }

    /// The `A` anchors of the cell at the origin of level `level`.
    public func baseAnchors(level: Int) -> [BoundingBox] {
        precondition(strides.indices.contains(level), "AnchorGenerator: level \(level) of \(levels)")
        let base = Float(strides[level])
        let center = centerOffset * base
        var anchors: [BoundingBox] = []
        for ratio in ratios {
            let hRatio = ratio.squareRoot()
            let wRatio = 1 / hRatio
            for scale in scales {
                let w = base * wRatio * scale
                let h = base * hRatio * scale
                anchors.append(
                    BoundingBox(x1: center - 0.5 * w, y1: center - 0.5 * h, x2: center + 0.5 * w, y2: center + 0.5 * h))
            }
        }
        return anchors
    }

    /// Every anchor of a `height` x `width` map of level `level`: `height * width * A` boxes.
    public func anchors(level: Int, height: Int, width: Int) -> [BoundingBox] {
        precondition(height >= 0 && width >= 0, "AnchorGenerator: map size \(height)x\(width)")
        let base = baseAnchors(level: level)
        let stride = Float(strides[level])
        var anchors: [BoundingBox] = []
        anchors.reserveCapacity(height * width * base.count)
        for y in 0..<height {
            let sy = Float(y) * stride
            for x in 0..<width {
                let sx = Float(x) * stride
                for b in base {
                    anchors.append(BoundingBox(x1: b.x1 + sx, y1: b.y1 + sy, x2: b.x2 + sx, y2: b.y2 + sy))
                }
            }
        }
        return anchors
    }

    /// mmdet's `valid_flags`: which anchors of a `height` x `width` map sit on
    /// cells of the image rather than of the batch padding. An image padded to
    /// `paddedHeight` x `paddedWidth` (its own size rounded up to the size
    /// divisor) covers the first `ceil(paddedHeight / stride)` rows and
    /// `ceil(paddedWidth / stride)` columns; the `A` anchors of a cell share its flag.
    public func validFlags(level: Int, height: Int, width: Int, paddedHeight: Int, paddedWidth: Int) -> [Bool] {
        precondition(strides.indices.contains(level), "AnchorGenerator: level \(level) of \(levels)")
        let stride = strides[level]
        let validH = min((paddedHeight + stride - 1) / stride, height)
        let validW = min((paddedWidth + stride - 1) / stride, width)
        var flags: [Bool] = []
        flags.reserveCapacity(height * width * anchorsPerCell)
        for y in 0..<height {
            for x in 0..<width {
                let valid = y < validH && x < validW
                for _ in 0..<anchorsPerCell { flags.append(valid) }
            }
        }
        return flags
    }
}
