import Foundation

/// An affine map from output pixel coordinates to input ones, as Pillow's
/// `Image.transform(size, AFFINE, (a, b, c, d, e, f))` takes it: the output
/// pixel whose centre is (x, y) samples the input at (a x + b y + c, d x + e y + f).
///
///     let shear = AffineMap(a: 1, b: 0.3, c: 0, d: 0, e: 1, f: 0)   // timm's ShearX(0.3)
public struct AffineMap: Equatable, Sendable {
    public var a, b, c, d, e, f: Double

    public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
        (self.a, self.b, self.c, self.d, self.e, self.f) = (a, b, c, d, e, f)
    }

    /// The map Pillow's `Image.rotate(degrees)` builds for an image of the
    /// given size (counter-clockwise about the centre, no expansion), with its
    /// rounding of the sine and cosine to 15 decimals.
    public static func rotation(degrees: Double, width: Int, height: Int) -> AffineMap {
        let radians = -(pythonModulo(degrees, 360) * (Double.pi / 180))
        let cosine = roundedTo15Decimals(Foundation.cos(radians))
        let sine = roundedTo15Decimals(Foundation.sin(radians))
        let minusSine = roundedTo15Decimals(-Foundation.sin(radians))
        let (cx, cy) = (Double(width) / 2, Double(height) / 2)
        var map = AffineMap(a: cosine, b: sine, c: 0, d: minusSine, e: cosine, f: 0)
        let (x, y) = (-cx - 0, -cy - 0)
        (map.c, map.f) = (map.a * x + map.b * y + map.c, map.d * x + map.e * y + map.f)
        map.c += cx
        map.f += cy
        return map
    }

    /// Python's `x % m` for floats: the result takes the sign of `m`.
    static func pythonModulo(_ x: Double, _ m: Double) -> Double {
        var r = fmod(x, m)
        if r == 0 { return Double(sign: m.sign, exponentBitPattern: 0, significandBitPattern: 0) }
        if (r < 0) != (m < 0) { r += m }
        return r
    }

    /// Python's `round(x, 15)`: the nearest value with 15 decimals, correctly
    /// rounded (through the C library's exact decimal conversion).
    static func roundedTo15Decimals(_ x: Double) -> Double {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([x]) { vsnprintf(&buffer, buffer.count, "%.15f", $0) }
        return strtod(buffer, nil)
    }
}

extension Image {
    /// `Image.transform(size, AFFINE, map, resample=BICUBIC, fillcolor=fill)`,
    /// bit-exact with Pillow: output pixels whose source point falls outside
    /// the image take `fill`; the others are Pillow's bicubic (a = -1)
    /// interpolation of the 4x4 neighbourhood, edges clamped, truncated.
    ///
    ///     let moved = try photo.affineTransformed(AffineMap(a: 1, b: 0, c: 20, d: 0, e: 1, f: 0),
    ///                                             fill: [124, 116, 104])   // content moves 20 px left
    public func affineTransformed(_ map: AffineMap, fill: [UInt8]) throws -> Image {
        try checkPointOpChannels("transform")
        guard fill.count == channels else {
            throw ImageError(
                .invalidArgument, source: "Image.transform",
                message: "fill has \(fill.count) values for a \(channels)-channel image")
        }
        var output = [UInt8](repeating: 0, count: pixels.count)
        let (width, height, channels) = (self.width, self.height, self.channels)
        let (w, h) = (Double(width), Double(height))
        let rowLength = width * channels
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                var out = 0
                for y in 0..<height {
                    let yc = Double(y) + 0.5
                    for x in 0..<width {
                        let xc = Double(x) + 0.5
                        let xin = map.a * xc + map.b * yc + map.c
                        let yin = map.d * xc + map.e * yc + map.f
                        guard xin >= 0, xin < w, yin >= 0, yin < h else {
                            for c in 0..<channels { target[out + c] = fill[c] }
                            out += channels
                            continue
                        }
                        let sx = xin - 0.5
                        let sy = yin - 0.5
                        // Pillow's FLOOR: the coordinates are at least -0.5 here.
                        let x0 = sx < 0 ? -1 : Int(sx)
                        let y0 = sy < 0 ? -1 : Int(sy)
                        let dx = sx - Double(x0)
                        let dy = sy - Double(y0)
                        let c0 = Swift.max(x0 - 1, 0) * channels
                        let c1 = Swift.min(Swift.max(x0, 0), width - 1) * channels
                        let c2 = Swift.min(x0 + 1, width - 1) * channels
                        let c3 = Swift.min(x0 + 2, width - 1) * channels
                        let r0 = Swift.max(y0 - 1, 0) * rowLength
                        let r1 = Swift.min(Swift.max(y0, 0), height - 1) * rowLength
                        let r2 = Swift.min(y0 + 1, height - 1) * rowLength
                        let r3 = Swift.min(y0 + 2, height - 1) * rowLength
                        for c in 0..<channels {
                            let (k0, k1, k2, k3) = (c0 + c, c1 + c, c2 + c, c3 + c)
                            let v0 = Image.cubic(
                                Double(source[r0 + k0]), Double(source[r0 + k1]), Double(source[r0 + k2]),
                                Double(source[r0 + k3]), dx)
                            let v1 = Image.cubic(
                                Double(source[r1 + k0]), Double(source[r1 + k1]), Double(source[r1 + k2]),
                                Double(source[r1 + k3]), dx)
                            let v2 = Image.cubic(
                                Double(source[r2 + k0]), Double(source[r2 + k1]), Double(source[r2 + k2]),
                                Double(source[r2 + k3]), dx)
                            let v3 = Image.cubic(
                                Double(source[r3 + k0]), Double(source[r3 + k1]), Double(source[r3 + k2]),
                                Double(source[r3 + k3]), dx)
                            let value = Image.cubic(v0, v1, v2, v3, dy)
                            target[out + c] = value <= 0 ? 0 : value >= 255 ? 255 : UInt8(value)
                        }
                        out += channels
                    }
                }
            }
        }
        return Image(unchecked: width, height, channels, output)
    }

    /// Pillow's BICUBIC macro: the cubic through four samples at offset `d`
    /// from the second, in its order of operations.
    @inline(__always)
    static func cubic(_ v1: Double, _ v2: Double, _ v3: Double, _ v4: Double, _ d: Double) -> Double {
        let p1 = v2
        let p2 = -v1 + v3
        let p3 = 2 * (v1 - v2) + v3 - v4
        let p4 = -v1 + v2 - v3 + v4
        return p1 + d * (p2 + d * (p3 + d * p4))
    }

    /// `Image.rotate(degrees, resample=BICUBIC, fillcolor=fill)`: counter-clockwise
    /// about the centre, same size. Multiples of 90 degrees (90 and 270 only
    /// for square images) are exact transpositions, as in Pillow.
    ///
    ///     let turned = try photo.rotated(degrees: 27, fill: [124, 116, 104])
    public func rotated(degrees: Double, fill: [UInt8]) throws -> Image {
        let angle = AffineMap.pythonModulo(degrees, 360)
        if angle == 0 { return self }
        if angle == 180 { return transposed(quarterTurns: 2) }
        if angle == 90 && width == height { return transposed(quarterTurns: 1) }
        if angle == 270 && width == height { return transposed(quarterTurns: 3) }
        return try affineTransformed(AffineMap.rotation(degrees: degrees, width: width, height: height), fill: fill)
    }

    /// The image turned counter-clockwise by `quarterTurns` x 90 degrees
    /// (Pillow's `ROTATE_90`, `ROTATE_180`, `ROTATE_270`).
    public func transposed(quarterTurns: Int) -> Image {
        let turns = ((quarterTurns % 4) + 4) % 4
        if turns == 0 { return self }
        let (outWidth, outHeight) = turns == 2 ? (width, height) : (height, width)
        var output = [UInt8](repeating: 0, count: pixels.count)
        let (width, height, channels) = (self.width, self.height, self.channels)
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sx, sy): (Int, Int)
                        switch turns {
                        case 1: (sx, sy) = (width - 1 - y, x)
                        case 2: (sx, sy) = (width - 1 - x, height - 1 - y)
                        default: (sx, sy) = (y, height - 1 - x)
                        }
                        for c in 0..<channels {
                            target[(y * outWidth + x) * channels + c] = source[(sy * width + sx) * channels + c]
                        }
                    }
                }
            }
        }
        return Image(unchecked: outWidth, outHeight, channels, output)
    }
}
