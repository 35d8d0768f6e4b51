import Foundation

/// The binary masks of one image's instances, each `height x width` row-major
/// (0 or 1), at the image's padded size in network-input pixels (mmdetection's
/// `BitmapMasks` after resize, flip and pad).
///
/// ```swift
/// let masks = InstanceMasks(height: 32, width: 32, bitmaps: [square, disc])
/// let targets = masks.cropAndResize(indices: [1, 0], boxes: proposals, size: 28)   // [2, 28, 28] of 0/1
/// ```
public struct InstanceMasks: Equatable, Sendable {
    public var height: Int
    public var width: Int
    /// `count * height * width` values, one mask after the other.
    public var values: [UInt8]

    public init(height: Int, width: Int, values: [UInt8]) {
        precondition(height >= 0 && width >= 0, "InstanceMasks: negative size \(height)x\(width)")
        precondition(
            height * width == 0 ? values.isEmpty : values.count % (height * width) == 0,
            "InstanceMasks: \(values.count) values are not whole \(height)x\(width) masks")
        self.height = height
        self.width = width
        self.values = values
    }

    /// Masks from one bitmap each (every bitmap `height * width` values).
    public init(height: Int, width: Int, bitmaps: [[UInt8]]) {
        precondition(
            bitmaps.allSatisfy { $0.count == height * width },
            "InstanceMasks: every bitmap must hold \(height)x\(width) values")
        self.init(height: height, width: width, values: bitmaps.flatMap { $0 })
    }

    /// The number of masks.
    public var count: Int { height * width == 0 ? 0 : values.count / (height * width) }

    /// Mask `index` as its own bitmap.
    public func bitmap(_ index: Int) -> ArraySlice<UInt8> {
        values[(index * height * width)..<((index + 1) * height * width)]
    }

    /// mmdet's `mask_target` for one image (`BitmapMasks.crop_and_resize` with
    /// `binarize=True`): mask `indices[k]` read inside `boxes[k]` by RoIAlign
    /// (aligned, adaptive sampling, spatial scale 1) onto a `size x size` grid, then
    /// `>= 0.5`. Returns `[boxes.count, size, size]` of 0 and 1 (no gradient).
    public func cropAndResize(indices: [Int], boxes: [BoundingBox], size: Int) -> Tensor {
        precondition(indices.count == boxes.count, "cropAndResize: \(indices.count) indices for \(boxes.count) boxes")
        precondition(indices.allSatisfy { (0..<count).contains($0) }, "cropAndResize: a mask index is out of range")
        guard !boxes.isEmpty else { return Tensor.zeros([0, size, size]) }
        let plane = height * width
        var floats = [Float](repeating: 0, count: indices.count * plane)
        for (k, index) in indices.enumerated() {
            let source = index * plane
            for i in 0..<plane { floats[k * plane + i] = Float(values[source + i]) }
        }
        let bitmaps = Tensor(shape: [indices.count, 1, height, width], scalars: floats)
        var rows: [Float] = []
        rows.reserveCapacity(boxes.count * 5)
        for (k, box) in boxes.enumerated() { rows += [Float(k), box.x1, box.y1, box.x2, box.y2] }
        let pooled = withNoGrad {
            RoIAlign(outputSize: size, spatialScale: 1)(
                bitmaps, rois: Tensor(shape: [boxes.count, 5], scalars: rows))
        }
        return Tensor(shape: [boxes.count, size, size], scalars: pooled.scalars.map { $0 >= 0.5 ? 1 : 0 })
    }
}

/// mmdet's `_do_paste_mask` (CPU path, `skip_empty=True`) and `mask_thr_binary`:
/// a `side x side` mask of probabilities predicted for `box` is resampled into an
/// image of `height x width` pixels by `grid_sample` (bilinear,
/// `align_corners=False`, zero padding) over the pixels from `floor(x1) - 1` to
/// `ceil(x2) + 1` (clamped to the image), then thresholded at `threshold`.
///
/// ```swift
/// let bitmap = MaskPasting.paste(probabilities, side: 28, box: box, height: 480, width: 640)
/// ```
public enum MaskPasting {
    /// The `height * width` bitmap (row-major, 0 or 1); nothing outside the box's span.
    public static func paste(
        _ mask: [Float], side: Int, box: BoundingBox, height: Int, width: Int, threshold: Float = 0.5
    ) -> [UInt8] {
        precondition(mask.count == side * side, "MaskPasting: \(mask.count) values for a \(side)x\(side) mask")
        var out = [UInt8](repeating: 0, count: height * width)
        let x0 = max(Int((box.x1.rounded(.down)) - 1), 0)
        let y0 = max(Int((box.y1.rounded(.down)) - 1), 0)
        let x1 = min(Int(box.x2.rounded(.up) + 1), width)
        let y1 = min(Int(box.y2.rounded(.up) + 1), height)
        guard x1 > x0, y1 > y0 else { return out }
        let size = Float(side)
        func sourceCoordinate(_ pixel: Int, _ low: Float, _ high: Float) -> Float {
            var g = (Float(pixel) + 0.5 - low) / (high - low) * 2 - 1
            if g.isInfinite || g.isNaN { g = 0 }
            return ((g + 1) * size - 1) / 2
        }
        let xs = (x0..<x1).map { sourceCoordinate($0, box.x1, box.x2) }
        for y in y0..<y1 {
            let sy = sourceCoordinate(y, box.y1, box.y2)
            let top = Int(sy.rounded(.down))
            let fy = sy - Float(top)
            for (column, sx) in zip(x0..<x1, xs) {
                let left = Int(sx.rounded(.down))
                let fx = sx - Float(left)
                func tap(_ r: Int, _ c: Int) -> Float {
                    (0..<side).contains(r) && (0..<side).contains(c) ? mask[r * side + c] : 0
                }
                let value =
                    tap(top, left) * (1 - fx) * (1 - fy) + tap(top, left + 1) * fx * (1 - fy)
                    + tap(top + 1, left) * (1 - fx) * fy + tap(top + 1, left + 1) * fx * fy
                if value >= threshold { out[y * width + column] = 1 }
            }
        }
        return out
    }
}
