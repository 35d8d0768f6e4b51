/// Pillow's `ImageEnhance`: each enhancer blends the image with a "degenerate"
/// version of it, `Image.blend(degenerate, image, factor)`, so 1 gives the
/// image, 0 the degenerate one, and factors above 1 push away from it.
///
/// | enhancer | degenerate image |
/// | --- | --- |
/// | color | the grayscale image (ITU-R 601-2 luma, Pillow's rounding) |
/// | contrast | a flat gray at the rounded mean of the grayscale image |
/// | brightness | black |
/// | sharpness | the image smoothed by Pillow's 3x3 SMOOTH kernel |
///
///     let vivid = try photo.enhanced(.color, factor: 1.5)
///     let blurred = try photo.enhanced(.sharpness, factor: 0.2)
public enum Enhancement: String, CaseIterable, Sendable {
    case color, contrast, brightness, sharpness
}

extension Image {
    /// `ImageEnhance.<Kind>(image).enhance(factor)`, bit-exact with Pillow.
    public func enhanced(_ enhancement: Enhancement, factor: Double) throws -> Image {
        try checkPointOpChannels("enhance(\(enhancement.rawValue))")
        let degenerate: Image
        switch enhancement {
        case .color:
            degenerate = channels == 1 ? self : luma().replicatedToRGB()
        case .contrast:
            let histogram = (channels == 1 ? self : luma()).channelHistograms()[0]
            let sum = histogram.enumerated().reduce(0.0) { $0 + Double($1.offset * $1.element) }
            let mean = UInt8(clamping: Int(sum / Double(width * height) + 0.5))
            degenerate = Image(unchecked: width, height, channels, [UInt8](repeating: mean, count: pixels.count))
        case .brightness:
            degenerate = Image(unchecked: width, height, channels, [UInt8](repeating: 0, count: pixels.count))
        case .sharpness:
            degenerate = smoothed()
        }
        return Image.blend(degenerate, self, alpha: factor)
    }

    /// `Image.blend(first, second, alpha)`: `first + alpha * (second - first)`
    /// per sample in single precision, truncated, and clipped to 0...255 when
    /// `alpha` is outside [0, 1] (Pillow's `ImagingBlend`).
    public static func blend(_ first: Image, _ second: Image, alpha: Double) -> Image {
        precondition(
            first.width == second.width && first.height == second.height && first.channels == second.channels,
            "blend needs images of one shape")
        let alpha = Float(alpha)
        if alpha == 0 { return first }
        if alpha == 1 { return second }
        var output = [UInt8](repeating: 0, count: first.pixels.count)
        let interpolating = alpha >= 0 && alpha <= 1
        first.pixels.withUnsafeBufferPointer { a in
            second.pixels.withUnsafeBufferPointer { b in
                output.withUnsafeMutableBufferPointer { out in
                    for i in 0..<out.count {
                        let value = Float(Int32(a[i])) + alpha * Float(Int32(b[i]) - Int32(a[i]))
                        if interpolating {
                            out[i] = UInt8(truncatingIfNeeded: Int32(value))
                        } else {
                            out[i] = value <= 0 ? 0 : value >= 255 ? 255 : UInt8(value)
                        }
                    }
                }
            }
        }
        return Image(unchecked: first.width, first.height, first.channels, output)
    }

    /// Pillow's `convert("L")` of an RGB image: `(19595 R + 38470 G + 7471 B + 2^15) >> 16`.
    public func luma() -> Image {
        precondition(channels == 3, "luma needs RGB, got \(channels) channels")
        var output = [UInt8](repeating: 0, count: width * height)
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for i in 0..<target.count {
                    let r = UInt32(source[3 * i])
                    let g = UInt32(source[3 * i + 1])
                    let b = UInt32(source[3 * i + 2])
                    target[i] = UInt8(truncatingIfNeeded: (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
                }
            }
        }
        return Image(unchecked: width, height, 1, output)
    }

    /// A grayscale image as RGB with three equal channels (`convert("RGB")`).
    public func replicatedToRGB() -> Image {
        precondition(channels == 1, "replicatedToRGB needs a grayscale image, got \(channels) channels")
        var output = [UInt8](repeating: 0, count: pixels.count * 3)
        for (i, value) in pixels.enumerated() {
            output[3 * i] = value
            output[3 * i + 1] = value
            output[3 * i + 2] = value
        }
        return Image(unchecked: width, height, 3, output)
    }

    /// `image.filter(ImageFilter.SMOOTH)`: the 3x3 kernel [1 1 1; 1 5 1; 1 1 1] / 13
    /// in single precision, rounded half up; the one-pixel border is copied
    /// unchanged, and images smaller than 3x3 are returned as they are.
    public func smoothed() -> Image {
        guard width >= 3, height >= 3 else { return self }
        let edge = Float(1) / 13
        let centre = Float(5) / 13
        var output = pixels
        let rowLength = width * channels
        let channels = self.channels
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for y in 1..<(height - 1) {
                    let above = (y - 1) * rowLength
                    let row = y * rowLength
                    let below = (y + 1) * rowLength
                    for i in channels..<(rowLength - channels) {
                        // Pillow's order: the row below, the row, the row above.
                        var sum: Float = 0.5
                        sum +=
                            Float(source[below + i - channels]) * edge + Float(source[below + i]) * edge
                            + Float(source[below + i + channels]) * edge
                        sum +=
                            Float(source[row + i - channels]) * edge + Float(source[row + i]) * centre
                            + Float(source[row + i + channels]) * edge
                        sum +=
                            Float(source[above + i - channels]) * edge + Float(source[above + i]) * edge
                            + Float(source[above + i + channels]) * edge
                        target[row + i] = sum <= 0 ? 0 : sum >= 255 ? 255 : UInt8(sum)
                    }
                }
            }
        }
        return Image(unchecked: width, height, channels, output)
    }
}
