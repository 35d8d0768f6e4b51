import Foundation
import MixKit
import MixmaeSupport

/// The backbone's fixed square input: padded dense-task batches are placed at
/// its top left, the rest stays 0 (the normalised mean), as mmdet/mmseg pad.
///
/// ```swift
/// let canvas = BackboneCanvas(size: 128)
/// let input = try canvas.place(batch.images)   // [B, 3, h, w] -> [B, 3, 128, 128]
/// ```
public struct BackboneCanvas: Sendable {
    public var size: Int

    public init(size: Int) { self.size = size }

    /// A batch too large for the backbone's input.
    public struct TooLarge: UserFacingError {
        public var height: Int
        public var width: Int
        public var size: Int
        public var advice: String

        public var what: String {
            "a \(width)x\(height) input does not fit the backbone's \(size)x\(size) input (data.img_size): \(advice)"
        }
    }

    /// `images` `[B, C, h, w]` with `h, w <= size` on a `size` x `size` canvas (the tensor itself when it fits exactly).
    public func place(_ images: Tensor, advice: String = "resize the images to at most data.img_size") throws
        -> Tensor
    {
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        guard h <= size, w <= size else { throw TooLarge(height: h, width: w, size: size, advice: advice) }
        if h == size && w == size { return images }
        let canvas = Tensor.zeros([b, c, size, size])
        for plane in 0..<(b * c) {
            for y in 0..<h {
                (canvas.data + (plane * size + y) * size).update(from: images.data + (plane * h + y) * w, count: w)
            }
        }
        return canvas
    }
}
