/// Pillow's `ImageOps` point operations on 8-bit grayscale and RGB images,
/// bit-exact: each builds the same lookup table as Pillow and maps every
/// sample through it (per channel for RGB, as `Image.point` with 768 entries).
///
///     let negative = try photo.inverted()
///     let fourLevels = try photo.posterized(keepingBits: 2)
///     let flattened = try photo.equalized()
extension Image {
    /// `ImageOps.invert`: every sample `v` becomes `255 - v`.
    public func inverted() throws -> Image {
        try checkPointOpChannels("invert")
        return mapped(through: (0..<256).map { UInt8(255 - $0) })
    }

    /// `ImageOps.posterize`: keeps the top `bits` bits of every sample (0 gives
    /// black, 8 or more the image unchanged).
    public func posterized(keepingBits bits: Int) throws -> Image {
        try checkPointOpChannels("posterize")
        guard bits < 8 else { return self }
        let mask = bits <= 0 ? 0 : ~((1 << (8 - bits)) - 1) & 0xFF
        return mapped(through: (0..<256).map { UInt8($0 & mask) })
    }

    /// `ImageOps.solarize`: samples at or above `threshold` are inverted.
    public func solarized(threshold: Int) throws -> Image {
        try checkPointOpChannels("solarize")
        return mapped(through: (0..<256).map { UInt8($0 < threshold ? $0 : 255 - $0) })
    }

    /// timm's `solarize_add`: `add` is added (capped at 255) to samples below
    /// `threshold`; the others stay. A negative `add` lowers them, floored at 0
    /// (Pillow clips the table).
    public func solarizeAdded(_ add: Int, threshold: Int = 128) throws -> Image {
        try checkPointOpChannels("solarize_add")
        return mapped(through: (0..<256).map { UInt8(clamping: $0 < threshold ? min(255, $0 + add) : $0) })
    }

    /// `ImageOps.autocontrast()` (no cutoff): each channel is stretched so its
    /// darkest sample becomes 0 and its brightest 255; a channel with a single
    /// value is left as it is.
    public func autocontrasted() throws -> Image {
        try checkPointOpChannels("autocontrast")
        let tables = channelHistograms().map { histogram -> [UInt8] in
            guard let lo = histogram.firstIndex(where: { $0 > 0 }),
                let hi = histogram.lastIndex(where: { $0 > 0 }), hi > lo
            else { return (0..<256).map { UInt8($0) } }
            let scale = 255.0 / Double(hi - lo)
            let offset = -Double(lo) * scale
            return (0..<256).map { UInt8(clamping: Int(Double($0) * scale + offset)) }
        }
        return mapped(throughPerChannel: tables)
    }

    /// `ImageOps.equalize()` (no mask): per channel, the cumulative histogram
    /// spread evenly over 0...255 with Pillow's integer steps.
    public func equalized() throws -> Image {
        try checkPointOpChannels("equalize")
        let tables = channelHistograms().map { histogram -> [UInt8] in
            let used = histogram.filter { $0 > 0 }
            let identity = (0..<256).map { UInt8($0) }
            guard used.count > 1 else { return identity }
            let step = (used.reduce(0, +) - used[used.count - 1]) / 255
            guard step > 0 else { return identity }
            var n = step / 2
            var table = [UInt8](repeating: 0, count: 256)
            for value in 0..<256 {
                table[value] = UInt8(clamping: n / step)
                n += histogram[value]
            }
            return table
        }
        return mapped(throughPerChannel: tables)
    }

    /// How many samples of each channel take each of the 256 values.
    public func channelHistograms() -> [[Int]] {
        var counts = [Int](repeating: 0, count: 256 * channels)
        let channels = self.channels
        pixels.withUnsafeBufferPointer { source in
            counts.withUnsafeMutableBufferPointer { counts in
                var index = 0
                while index < source.count {
                    for c in 0..<channels { counts[c * 256 + Int(source[index + c])] += 1 }
                    index += channels
                }
            }
        }
        return (0..<channels).map { Array(counts[($0 * 256)..<($0 * 256 + 256)]) }
    }

    /// Every sample mapped through one 256-entry table.
    public func mapped(through table: [UInt8]) -> Image {
        mapped(throughPerChannel: [[UInt8]](repeating: table, count: channels))
    }

    /// Each channel's samples mapped through that channel's 256-entry table.
    public func mapped(throughPerChannel tables: [[UInt8]]) -> Image {
        precondition(
            tables.count == channels && tables.allSatisfy { $0.count == 256 },
            "need \(channels) tables of 256 entries, got \(tables.map(\.count))")
        let flat = Array(tables.joined())
        var output = [UInt8](repeating: 0, count: pixels.count)
        let channels = self.channels
        pixels.withUnsafeBufferPointer { source in
            flat.withUnsafeBufferPointer { table in
                output.withUnsafeMutableBufferPointer { target in
                    var index = 0
                    while index < source.count {
                        for c in 0..<channels { target[index + c] = table[c * 256 + Int(source[index + c])] }
                        index += channels
                    }
                }
            }
        }
        return Image(unchecked: width, height, channels, output)
    }

    /// Pillow's ImageOps and ImageEnhance take grayscale ("L") and RGB images;
    /// RGBA (alpha) is not handled the same way, so it is refused.
    func checkPointOpChannels(_ operation: String) throws {
        guard channels == 1 || channels == 3 else {
            throw ImageError(
                .unsupported, source: "Image.\(operation)",
                message: "needs a grayscale or RGB image, got \(channels) channels: decode with mode .rgb")
        }
    }
}
