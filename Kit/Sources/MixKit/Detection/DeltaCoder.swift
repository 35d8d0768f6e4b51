import Foundation

/// Box regression targets as deltas of centre and log-size, mmdet's
/// `DeltaXYWHBBoxCoder` (R-CNN's parameterisation), in float32 in mmdet's order.
///
/// For a prior box `p` and a target `g` (centres `px, gx`, sizes `pw, gw`, ...):
/// `delta = ((gx - px) / pw, (gy - py) / ph, log(gw / pw), log(gh / ph))`,
/// then `(delta - means) / stds`. Decoding inverts it, clamping the log-size
/// deltas to `|log(whRatioClip)|` first and clipping the boxes to the image.
///
/// ```swift
/// let coder = DeltaXYWHBBoxCoder.rcnn                          // stds (0.1, 0.1, 0.2, 0.2)
/// let targets = coder.encode(positiveProposals, to: matchedTruth)   // 4 per box
/// let boxes = coder.decode(proposals, deltas: predicted.scalars, maxShape: (height: 800, width: 1216))
/// ```
public struct DeltaXYWHBBoxCoder: Sendable, Equatable {
    public var means: [Float]
    public var stds: [Float]
    /// Whether ``decode(_:deltas:maxShape:whRatioClip:)`` clips to `maxShape`.
    public var clipBorder: Bool

    public init(means: [Float] = [0, 0, 0, 0], stds: [Float] = [1, 1, 1, 1], clipBorder: Bool = true) {
        precondition(means.count == 4 && stds.count == 4, "DeltaXYWHBBoxCoder: means and stds need 4 values each")
        precondition(stds.allSatisfy { $0 > 0 }, "DeltaXYWHBBoxCoder: stds \(stds) must be positive")
        self.means = means
        self.stds = stds
        self.clipBorder = clipBorder
    }

    /// The RPN's coder in mmdet's Mask R-CNN: means 0, stds 1.
    public static let rpn = DeltaXYWHBBoxCoder()
    /// The RoI box head's coder in mmdet's Mask R-CNN: means 0, stds (0.1, 0.1, 0.2, 0.2).
    public static let rcnn = DeltaXYWHBBoxCoder(stds: [0.1, 0.1, 0.2, 0.2])

    /// mmdet's default `wh_ratio_clip`, 16 / 1000: a decoded side is at most
    /// 62.5 times (and at least 1/62.5 of) the prior's.
    public static let defaultWHRatioClip: Float = 16 / 1000

    /// The deltas that move each of `boxes` onto the target of the same index:
    /// `4 * boxes.count` values `(dx, dy, dw, dh)`, box by box.
    public func encode(_ boxes: [BoundingBox], to targets: [BoundingBox]) -> [Float] {
        precondition(
            boxes.count == targets.count, "DeltaXYWHBBoxCoder.encode: \(boxes.count) boxes but \(targets.count) targets"
        )
        var deltas = [Float](repeating: 0, count: 4 * boxes.count)
        for (i, (p, g)) in zip(boxes, targets).enumerated() {
            let px = (p.x1 + p.x2) * 0.5
            let py = (p.y1 + p.y2) * 0.5
            let pw = p.x2 - p.x1
            let ph = p.y2 - p.y1
            let gx = (g.x1 + g.x2) * 0.5
            let gy = (g.y1 + g.y2) * 0.5
            let gw = g.x2 - g.x1
            let gh = g.y2 - g.y1
            let raw = [(gx - px) / pw, (gy - py) / ph, logf(gw / pw), logf(gh / ph)]
            for k in 0..<4 { deltas[4 * i + k] = (raw[k] - means[k]) / stds[k] }
        }
        return deltas
    }

    /// Applies `deltas` to `boxes`. `deltas` holds `4 * k` values per box (`k`
    /// boxes per prior, e.g. one per class); the result has `k` boxes per prior,
    /// in the same order. With `maxShape` (the image's `height` and `width`) and
    /// ``clipBorder``, corners are clipped to `[0, width] x [0, height]`.
    public func decode(
        _ boxes: [BoundingBox], deltas: [Float], maxShape: (height: Int, width: Int)? = nil,
        whRatioClip: Float = DeltaXYWHBBoxCoder.defaultWHRatioClip
    ) -> [BoundingBox] {
        guard !boxes.isEmpty else {
            precondition(deltas.isEmpty, "DeltaXYWHBBoxCoder.decode: \(deltas.count) deltas for no boxes")
            return []
        }
        precondition(
            deltas.count % (4 * boxes.count) == 0,
            "DeltaXYWHBBoxCoder.decode: \(deltas.count) deltas is not a multiple of 4 x \(boxes.count) boxes")
        let perBox = deltas.count / (4 * boxes.count)
        let maxRatio = Float(abs(log(Double(whRatioClip))))
        var decoded: [BoundingBox] = []
        decoded.reserveCapacity(boxes.count * perBox)
        for (i, p) in boxes.enumerated() {
            let px = (p.x1 + p.x2) * 0.5
            let py = (p.y1 + p.y2) * 0.5
            let pw = p.x2 - p.x1
            let ph = p.y2 - p.y1
            for k in 0..<perBox {
                let d = 4 * (i * perBox + k)
                let dx = deltas[d] * stds[0] + means[0]
                let dy = deltas[d + 1] * stds[1] + means[1]
                let dw = min(max(deltas[d + 2] * stds[2] + means[2], -maxRatio), maxRatio)
                let dh = min(max(deltas[d + 3] * stds[3] + means[3], -maxRatio), maxRatio)
                let gx = px + pw * dx
                let gy = py + ph * dy
                let gw = pw * expf(dw)
                let gh = ph * expf(dh)
                var box = BoundingBox(x1: gx - gw * 0.5, y1: gy - gh * 0.5, x2: gx + gw * 0.5, y2: gy + gh * 0.5)
                if clipBorder, let shape = maxShape {
                    box = box.clipped(width: Float(shape.width), height: Float(shape.height))
                }
                decoded.append(box)
            }
        }
        return decoded
    }
}
