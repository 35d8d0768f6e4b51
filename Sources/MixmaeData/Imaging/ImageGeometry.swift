extension Image {
    /// The `width` x `height` rectangle whose top-left pixel is (`x`, `y`);
    /// the rectangle must lie inside the image.
    ///
    ///     let patch = try image.cropped(x: 16, y: 8, width: 224, height: 224)
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) throws
        -> Image
    {
        guard x >= 0, y >= 0, cropWidth > 0, cropHeight > 0, x + cropWidth <= width,
            y + cropHeight <= height
        else {
            throw ImageError(
                .invalidArgument, source: "Image.cropped",
                message: "rectangle x=\(x) y=\(y) \(cropWidth)x\(cropHeight) is not inside "
                    + "the \(width)x\(height) image")
        }
        let rowLength = cropWidth * channels
        var output = [UInt8]()
        output.reserveCapacity(rowLength * cropHeight)
        for row in y..<(y + cropHeight) {
            let start = (row * width + x) * channels
            output.append(contentsOf: pixels[start..<(start + rowLength)])
        }
        return Image(unchecked: cropWidth, cropHeight, channels, output)
    }

    /// The mirror image: column `x` becomes column `width - 1 - x`.
    ///
    ///     let mirrored = image.flippedHorizontally()
    public func flippedHorizontally() -> Image {
        var output = [UInt8](repeating: 0, count: pixels.count)
        let channels = self.channels
        let width = self.width
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for row in 0..<height {
                    let base = row * width * channels
                    for x in 0..<width {
                        let from = base + x * channels
                        let to = base + (width - 1 - x) * channels
                        for c in 0..<channels { target[to + c] = source[from + c] }
                    }
                }
            }
        }
        return Image(unchecked: width, height, channels, output)
    }
}
