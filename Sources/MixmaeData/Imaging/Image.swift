/// An 8-bit image: `height` rows of `width` pixels, each pixel `channels`
/// interleaved samples (HWC order), rows top to bottom.
///
/// Channel counts: 1 (grayscale, or a label map of class indices), 3 (RGB)
/// or 4 (RGBA).
///
///     var image = try Image(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 0, 0, 255])
///     image[x: 1, y: 0, channel: 2]  // 255
///     image[x: 0, y: 0, channel: 1] = 128
public struct Image: Equatable, Sendable {
    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Samples per pixel: 1, 3 or 4.
    public let channels: Int
    /// `height * width * channels` samples; the sample of channel `c` of the
    /// pixel at column `x`, row `y` is at `(y * width + x) * channels + c`.
    public private(set) var pixels: [UInt8]

    /// Wraps existing samples, checking that the shape and count agree.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        try Image.checkShape(width: width, height: height, channels: channels)
        guard pixels.count == width * height * channels else {
            throw ImageError(
                .invalidArgument, source: "Image(width:height:channels:pixels:)",
                message: "\(pixels.count) samples given for \(width)x\(height)x\(channels), "
                    + "which needs \(width * height * channels)")
        }
        self.init(unchecked: width, height, channels, pixels)
    }

    /// An image with every sample set to `value`.
    public init(width: Int, height: Int, channels: Int, filledWith value: UInt8 = 0) throws {
        try Image.checkShape(width: width, height: height, channels: channels)
        self.init(
            unchecked: width, height, channels,
            [UInt8](repeating: value, count: width * height * channels))
    }

    init(unchecked width: Int, _ height: Int, _ channels: Int, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The sample of `channel` at column `x`, row `y` (all zero-based).
    public subscript(x x: Int, y y: Int, channel channel: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + channel] }
        set { pixels[(y * width + x) * channels + channel] = newValue }
    }

    /// Calls `body` with the samples for in-place changes that keep the shape.
    public mutating func withUnsafeMutablePixels<Result>(
        _ body: (inout UnsafeMutableBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result {
        try pixels.withUnsafeMutableBufferPointer { try body(&$0) }
    }

    static func checkShape(width: Int, height: Int, channels: Int) throws {
        guard width > 0, height > 0 else {
            throw ImageError(
                .invalidArgument, source: "Image",
                message: "width and height must be positive, got \(width)x\(height)")
        }
        guard [1, 3, 4].contains(channels) else {
            throw ImageError(
                .invalidArgument, source: "Image",
                message: "channels must be 1, 3 or 4, got \(channels)")
        }
        guard width.multipliedReportingOverflow(by: height).partialValue <= 1 << 40,
            !width.multipliedReportingOverflow(by: height).overflow
        else {
            throw ImageError(
                .tooLarge, source: "Image", message: "\(width)x\(height) pixels is too many")
        }
    }
}
