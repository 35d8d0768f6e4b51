import Foundation

/// How `Image.resized` computes a pixel.
public enum ResizeFilter: Sendable {
    /// The source pixel whose area contains the output pixel's centre
    /// (`floor((x + 0.5) * scale)`, as Pillow's NEAREST and PyTorch's
    /// "nearest-exact"); the filter for label maps, since it never invents a class.
    case nearest
    /// Triangle filter with pixel centres aligned (align_corners=False).
    case bilinear
    /// Keys cubic convolution with a = -0.5, pixel centres aligned.
    case bicubic
}

extension Image {
    /// The image resampled to `width` x `height`, bit-exact with Pillow 13's
    /// `Image.resize((width, height), filter)` for 1- and 3-channel images
    /// (older Pillow always runs the horizontal pass first, which differs by
    /// one level on some pixels when the height shrinks much more than the width).
    ///
    /// Pixel centres are aligned (align_corners=False). With `antialias`
    /// (Pillow's behaviour, and torchvision's on PIL images) a downscale widens
    /// the filter to cover every source pixel, like `F.interpolate(...,
    /// antialias=True)`; without it, bilinear is PyTorch's `F.interpolate(mode=
    /// "bilinear", align_corners=False)` (to within one level of rounding).
    /// Both use Pillow's fixed-point arithmetic: a horizontal pass rounded to
    /// 8 bits, then a vertical pass. Channels are filtered independently
    /// (Pillow premultiplies alpha for RGBA; this does not).
    ///
    ///     let small = try photo.resized(width: 224, height: 224)                  // bilinear
    ///     let labels = try labelMap.resized(width: 512, height: 512, filter: .nearest)
    public func resized(
        width newWidth: Int, height newHeight: Int, filter: ResizeFilter = .bilinear,
        antialias: Bool = true
    ) throws -> Image {
        try Image.checkShape(width: newWidth, height: newHeight, channels: channels)
        if newWidth == width && newHeight == height { return self }
        switch filter {
        case .nearest:
            return resizedNearest(width: newWidth, height: newHeight)
        case .bilinear:
            return resampled(
                width: newWidth, height: newHeight,
                kernel: ResampleKernel(support: 1, weight: ResampleKernel.triangle),
                antialias: antialias)
        case .bicubic:
            return resampled(
                width: newWidth, height: newHeight,
                kernel: ResampleKernel(support: 2, weight: ResampleKernel.cubic),
                antialias: antialias)
        }
    }

    private func resizedNearest(width newWidth: Int, height newHeight: Int) -> Image {
        let columns = ResampleKernel.nearestIndices(input: width, output: newWidth)
        let rows = ResampleKernel.nearestIndices(input: height, output: newHeight)
        var output = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        let channels = self.channels
        let width = self.width
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for (y, sourceY) in rows.enumerated() {
                    let sourceRow = sourceY * width * channels
                    let targetRow = y * newWidth * channels
                    for (x, sourceX) in columns.enumerated() {
                        for c in 0..<channels {
                            target[targetRow + x * channels + c] =
                                source[sourceRow + sourceX * channels + c]
                        }
                    }
                }
            }
        }
        return Image(unchecked: newWidth, newHeight, channels, output)
    }

    private func resampled(
        width newWidth: Int, height newHeight: Int, kernel: ResampleKernel, antialias: Bool
    ) -> Image {
        let vertical = kernel.coefficients(input: height, output: newHeight, antialias: antialias)
        let horizontal = kernel.coefficients(input: width, output: newWidth, antialias: antialias)
        if newWidth == width { return resampleColumns(vertical) }
        if newHeight == height { return resampleRows(firstRow: 0, rowCount: height, horizontal) }
        // Pillow 13 runs the vertical pass first when the height shrinks by
        // more than twice what the width does (the order changes the rounding
        // of the 8-bit intermediate image).
        if newHeight < height && height - newHeight > 2 * (width - newWidth) {
            return resampleColumns(vertical).resampleRows(
                firstRow: 0, rowCount: newHeight, horizontal)
        }
        // Horizontal first, over the source rows the vertical pass reads only.
        let firstRow = vertical.start[0]
        let lastRow = vertical.start[newHeight - 1] + vertical.count[newHeight - 1]
        var shifted = vertical
        shifted.start = vertical.start.map { $0 - firstRow }
        return resampleRows(firstRow: firstRow, rowCount: lastRow - firstRow, horizontal)
            .resampleColumns(shifted)
    }

    /// Horizontal pass over rows `firstRow ..< firstRow + rowCount`.
    private func resampleRows(firstRow: Int, rowCount: Int, _ plan: ResamplePlan) -> Image {
        let outWidth = plan.start.count
        let channels = self.channels
        let width = self.width
        var output = [UInt8](repeating: 0, count: outWidth * rowCount * channels)
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                plan.weights.withUnsafeBufferPointer { weights in
                    for y in 0..<rowCount {
                        let sourceRow = (firstRow + y) * width * channels
                        let targetRow = y * outWidth * channels
                        for x in 0..<outWidth {
                            let start = plan.start[x]
                            let taps = plan.count[x]
                            let weightBase = x * plan.stride
                            for c in 0..<channels {
                                var sum = ResamplePlan.half
                                var index = sourceRow + start * channels + c
                                for tap in 0..<taps {
                                    sum &+= Int32(source[index]) &* weights[weightBase + tap]
                                    index += channels
                                }
                                target[targetRow + x * channels + c] = ResamplePlan.clip(sum)
                            }
                        }
                    }
                }
            }
        }
        return Image(unchecked: outWidth, rowCount, channels, output)
    }

    /// Vertical pass; `plan.start` indexes rows of this image.
    private func resampleColumns(_ plan: ResamplePlan) -> Image {
        let outHeight = plan.start.count
        let rowLength = width * channels
        var output = [UInt8](repeating: 0, count: outHeight * rowLength)
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                plan.weights.withUnsafeBufferPointer { weights in
                    for y in 0..<outHeight {
                        let start = plan.start[y]
                        let taps = plan.count[y]
                        let weightBase = y * plan.stride
                        for i in 0..<rowLength {
                            var sum = ResamplePlan.half
                            var index = start * rowLength + i
                            for tap in 0..<taps {
                                sum &+= Int32(source[index]) &* weights[weightBase + tap]
                                index += rowLength
                            }
                            target[y * rowLength + i] = ResamplePlan.clip(sum)
                        }
                    }
                }
            }
        }
        return Image(unchecked: width, outHeight, channels, output)
    }
}

/// For each output index along one axis: the first source index, how many
/// source indices contribute, and their fixed-point weights.
struct ResamplePlan {
    /// Fraction bits of the weights: 32 - 8 (sample) - 2 (headroom), as Pillow.
    static let precisionBits: Int32 = 22
    static let half: Int32 = 1 << (precisionBits - 1)

    var start: [Int]
    var count: [Int]
    /// `stride` weights per output index.
    var weights: [Int32]
    var stride: Int

    @inline(__always)
    static func clip(_ sum: Int32) -> UInt8 {
        UInt8(clamping: sum >> precisionBits)
    }
}

/// A separable resampling filter: its radius in source pixels at scale 1
/// and its weight function.
struct ResampleKernel {
    var support: Double
    var weight: (Double) -> Double

    static func triangle(_ x: Double) -> Double {
        let x = abs(x)
        return x < 1 ? 1 - x : 0
    }

    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// The weights mapping `input` samples to `output` samples, with the
    /// filter stretched by the downscale factor when `antialias` is on.
    func coefficients(input: Int, output: Int, antialias: Bool) -> ResamplePlan {
        let scale = Double(input) / Double(output)
        let filterScale = antialias ? max(scale, 1) : 1
        let radius = support * filterScale
        let stride = Int(radius.rounded(.up)) * 2 + 1
        var plan = ResamplePlan(
            start: [Int](repeating: 0, count: output), count: [Int](repeating: 0, count: output),
            weights: [Int32](repeating: 0, count: output * stride), stride: stride)
        var taps = [Double](repeating: 0, count: stride)
        let reciprocal = 1 / filterScale
        for index in 0..<output {
            let center = (Double(index) + 0.5) * scale
            let first = max(Int(center - radius + 0.5), 0)
            let count = min(Int(center + radius + 0.5), input) - first
            var total = 0.0
            for tap in 0..<count {
                let w = weight((Double(tap + first) - center + 0.5) * reciprocal)
                taps[tap] = w
                total += w
            }
            for tap in 0..<count {
                let normalized = total != 0 ? taps[tap] / total : taps[tap]
                let scaled = normalized * Double(1 << ResamplePlan.precisionBits)
                plan.weights[index * stride + tap] = Int32(scaled < 0 ? scaled - 0.5 : scaled + 0.5)
            }
            plan.start[index] = first
            plan.count[index] = count
        }
        return plan
    }

    /// Source index per output index for nearest-neighbour scaling, stepping
    /// the source coordinate the way Pillow does so the results agree exactly.
    static func nearestIndices(input: Int, output: Int) -> [Int] {
        let step = Double(input) / Double(output)
        var position = step * 0.5
        var indices = [Int]()
        indices.reserveCapacity(output)
        for _ in 0..<output {
            indices.append(min(max(Int(position), 0), input - 1))
            position += step
        }
        return indices
    }
}
