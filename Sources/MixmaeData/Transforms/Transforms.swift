import Foundation
import MixKit

/// Crops a random area and aspect ratio and resizes it to a square, as
/// torchvision's `RandomResizedCrop` draws it (10 tries, then a centre crop
/// clamped to the ratio range).
///
/// ```swift
/// let crop = RandomResizedCrop(size: 224, scale: 0.2...1.0)
/// let out = try crop(image, using: &rng)
/// ```
public struct RandomResizedCrop: Sendable {
    public var size: Int
    public var scale: ClosedRange<Double>
    public var ratio: ClosedRange<Double>
    public var filter: ResizeFilter

    public init(
        size: Int, scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3),
        filter: ResizeFilter = .bicubic
    ) {
        self.size = size
        self.scale = scale
        self.ratio = ratio
        self.filter = filter
    }

    /// The crop rectangle (x, y, width, height) for an image of the given size.
    public func rectangle(width: Int, height: Int, using rng: inout RandomGenerator) -> (Int, Int, Int, Int) {
        let area = Double(width * height)
        let logRatio = (Foundation.log(ratio.lowerBound), Foundation.log(ratio.upperBound))
        for _ in 0..<10 {
            let target = area * (scale.lowerBound + rng.nextDouble() * (scale.upperBound - scale.lowerBound))
            let aspect = Foundation.exp(logRatio.0 + rng.nextDouble() * (logRatio.1 - logRatio.0))
            let w = Int((target * aspect).squareRoot().rounded())
            let h = Int((target / aspect).squareRoot().rounded())
            if w > 0 && h > 0 && w <= width && h <= height {
                let y = rng.nextInt(below: height - h + 1)
                let x = rng.nextInt(below: width - w + 1)
                return (x, y, w, h)
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width
        var h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded())
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded())
        }
        return ((width - w) / 2, (height - h) / 2, w, h)
    }

    public func callAsFunction(_ image: Image, using rng: inout RandomGenerator) throws -> Image {
        let (x, y, w, h) = rectangle(width: image.width, height: image.height, using: &rng)
        return try image.cropped(x: x, y: y, width: w, height: h).resized(width: size, height: size, filter: filter)
    }
}

/// Evaluation preprocessing: resize the shorter side to `size / cropFraction`,
/// then a centre crop of `size` (the reference's 0.875 = 224/256 by default).
public struct ResizeCenterCrop: Sendable {
    public var size: Int
    public var cropFraction: Double
    public var filter: ResizeFilter

    public init(size: Int, cropFraction: Double = 0.875, filter: ResizeFilter = .bicubic) {
        self.size = size
        self.cropFraction = cropFraction
        self.filter = filter
    }

    public func callAsFunction(_ image: Image) throws -> Image {
        let shorter = Int((Double(size) / cropFraction).rounded(.down))
        let (w, h) =
            image.width <= image.height
            ? (shorter, max(1, Int(Double(shorter) * Double(image.height) / Double(image.width))))
            : (max(1, Int(Double(shorter) * Double(image.width) / Double(image.height))), shorter)
        let resized = try image.resized(width: max(w, size), height: max(h, size), filter: filter)
        // torchvision's CenterCrop: int(round((side - size) / 2)), half to even.
        let x = Int((Double(resized.width - size) / 2).rounded(.toNearestOrEven))
        let y = Int((Double(resized.height - size) / 2).rounded(.toNearestOrEven))
        return try resized.cropped(x: x, y: y, width: size, height: size)
    }
}

/// Pixel scaling and normalisation: `(value / 255 - mean) / std`, per channel.
public struct Normalization: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]

    /// ImageNet's statistics, the reference's default.
    public static let imagenet = Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])

    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// Writes an RGB image as CHW floats to `out` (3 * height * width values).
    public func write(_ image: Image, to out: UnsafeMutablePointer<Float>) {
        let plane = image.width * image.height
        let scale = (0..<3).map { 1 / (255 * std[$0]) }
        let shift = (0..<3).map { -mean[$0] / std[$0] }
        image.pixels.withUnsafeBufferPointer { px in
            for c in 0..<3 {
                let o = out + c * plane
                let (a, b) = (scale[c], shift[c])
                for i in 0..<plane { o[i] = Float(px[i * 3 + c]) * a + b }
            }
        }
    }

    /// Writes an RGB image as CHW floats into the top-left corner of a canvas of
    /// 3 planes of `canvasWidth` x `canvasHeight` floats at `out`, leaving the
    /// rest of the canvas (the padding) as it is.
    ///
    /// ```swift
    /// let batch = Tensor.zeros([2, 3, 64, 96])  // padding stays 0, the normalised mean
    /// normalization.write(image, to: batch.data, canvasWidth: 96, canvasHeight: 64)
    /// ```
    public func write(_ image: Image, to out: UnsafeMutablePointer<Float>, canvasWidth: Int, canvasHeight: Int) {
        precondition(
            image.channels == 3 && image.width <= canvasWidth && image.height <= canvasHeight,
            "a \(image.width)x\(image.height)x\(image.channels) image does not fit a \(canvasWidth)x\(canvasHeight) RGB canvas"
        )
        let plane = canvasWidth * canvasHeight
        let scale = (0..<3).map { 1 / (255 * std[$0]) }
        let shift = (0..<3).map { -mean[$0] / std[$0] }
        let width = image.width
        image.pixels.withUnsafeBufferPointer { px in
            for c in 0..<3 {
                let (a, b) = (scale[c], shift[c])
                for y in 0..<image.height {
                    let o = out + c * plane + y * canvasWidth
                    let row = y * width * 3
                    for x in 0..<width { o[x] = Float(px[row + x * 3 + c]) * a + b }
                }
            }
        }
    }

    /// Back to 8-bit RGB, for pictures of inputs and reconstructions.
    public func image(fromCHW values: UnsafePointer<Float>, width: Int, height: Int) throws -> Image {
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for c in 0..<3 {
            for i in 0..<plane {
                let v = (values[c * plane + i] * std[c] + mean[c]) * 255
                pixels[i * 3 + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }
        return try Image(width: width, height: height, channels: 3, pixels: pixels)
    }
}
