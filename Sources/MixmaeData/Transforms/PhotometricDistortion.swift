import MixKit

/// mmsegmentation's `PhotoMetricDistortion`: random brightness, contrast,
/// saturation and hue, each applied with probability 1/2, on 8-bit RGB.
///
/// In order: brightness (add a delta in `-brightnessDelta...brightnessDelta`),
/// then contrast first or last (a coin flip; multiply by a factor in
/// `contrastRange`), saturation (multiply HSV saturation by a factor in
/// `saturationRange`), hue (shift HSV hue, on OpenCV's 0..<180 scale, by an
/// integer in `-hueDelta...hueDelta`). Every step rounds back to 8 bits
/// (values clipped to 0...255), as mmseg's uint8 pipeline.
///
/// ```swift
/// let distort = PhotometricDistortion()
/// let image = try distort(sample.image, using: &rng)
/// ```
public struct PhotometricDistortion: Sendable, Equatable {
    public var brightnessDelta: Double = 32
    public var contrastRange: ClosedRange<Double> = 0.5...1.5
    public var saturationRange: ClosedRange<Double> = 0.5...1.5
    public var hueDelta: Int = 18

    public init() {}

    public func callAsFunction(_ image: Image, using rng: inout RandomGenerator) throws -> Image {
        precondition(image.channels == 3, "PhotometricDistortion needs an RGB image")
        var pixels = image.pixels.map(Double.init)
        if rng.nextInt(below: 2) == 1 {
            let delta = uniform(-brightnessDelta...brightnessDelta, &rng)
            convert(&pixels, alpha: 1, beta: delta)
        }
        let contrastFirst = rng.nextInt(below: 2) == 1
        if contrastFirst { contrast(&pixels, &rng) }
        if rng.nextInt(below: 2) == 1 {
            let alpha = uniform(saturationRange, &rng)
            mapHSV(&pixels) { hsv in hsv.s = clampRound(hsv.s * alpha) }
        }
        if rng.nextInt(below: 2) == 1 {
            let shift = rng.nextInt(below: 2 * hueDelta + 1) - hueDelta
            mapHSV(&pixels) { hsv in hsv.h = Double((Int(hsv.h) + shift + 180) % 180) }
        }
        if !contrastFirst { contrast(&pixels, &rng) }
        return try Image(width: image.width, height: image.height, channels: 3, pixels: pixels.map { UInt8($0) })
    }

    private func contrast(_ pixels: inout [Double], _ rng: inout RandomGenerator) {
        guard rng.nextInt(below: 2) == 1 else { return }
        convert(&pixels, alpha: uniform(contrastRange, &rng), beta: 0)
    }

    private func uniform(_ range: ClosedRange<Double>, _ rng: inout RandomGenerator) -> Double {
        range.lowerBound + rng.nextDouble() * (range.upperBound - range.lowerBound)
    }

    /// `clip(x * alpha + beta, 0, 255)` truncated to 8 bits, as mmseg's `convert`.
    private func convert(_ pixels: inout [Double], alpha: Double, beta: Double) {
        for i in pixels.indices { pixels[i] = min(max(pixels[i] * alpha + beta, 0), 255).rounded(.towardZero) }
    }

    /// Applies `change` to every pixel in 8-bit HSV (OpenCV's scale: H 0..<180, S and V 0...255).
    private func mapHSV(_ pixels: inout [Double], _ change: (inout HSV) -> Void) {
        for p in stride(from: 0, to: pixels.count, by: 3) {
            var hsv = HSV(r: pixels[p], g: pixels[p + 1], b: pixels[p + 2])
            change(&hsv)
            let (r, g, b) = hsv.rgb
            (pixels[p], pixels[p + 1], pixels[p + 2]) = (clampRound(r), clampRound(g), clampRound(b))
        }
    }
}

private func clampRound(_ x: Double) -> Double { min(max(x.rounded(), 0), 255) }

/// One pixel in OpenCV's 8-bit HSV (`COLOR_RGB2HSV`): H in 0..<180 (degrees / 2), S and V in 0...255.
struct HSV {
    var h: Double
    var s: Double
    var v: Double

    init(r: Double, g: Double, b: Double) {
        let high = max(r, g, b)
        let low = min(r, g, b)
        let spread = high - low
        v = high
        s = high > 0 ? clampRound(255 * spread / high) : 0
        var degrees: Double = 0
        if spread > 0 {
            if high == r {
                degrees = 60 * (g - b) / spread
            } else if high == g {
                degrees = 120 + 60 * (b - r) / spread
            } else {
                degrees = 240 + 60 * (r - g) / spread
            }
        }
        if degrees < 0 { degrees += 360 }
        h = (degrees / 2).rounded().truncatingRemainder(dividingBy: 180)
    }

    /// Back to RGB (0...255, unrounded).
    var rgb: (Double, Double, Double) {
        let saturation = s / 255
        let chroma = v * saturation
        let sector = (h * 2) / 60
        let x = chroma * (1 - abs(sector.truncatingRemainder(dividingBy: 2) - 1))
        let m = v - chroma
        let (r, g, b): (Double, Double, Double)
        switch Int(sector) % 6 {
        case 0: (r, g, b) = (chroma, x, 0)
        case 1: (r, g, b) = (x, chroma, 0)
        case 2: (r, g, b) = (0, chroma, x)
        case 3: (r, g, b) = (0, x, chroma)
        case 4: (r, g, b) = (x, 0, chroma)
        default: (r, g, b) = (chroma, 0, x)
        }
        return (r + m, g + m, b + m)
    }
}
