import Foundation

/// An RGB colour with components in 0...255.
public struct SceneColor: Equatable, Sendable {
    public var red: Double
    public var green: Double
    public var blue: Double

    public init(red: Double, green: Double, blue: Double) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// The colour of hue `h` (turns, any real), saturation `s` and value `v` (0...1).
    public init(hue h: Double, saturation s: Double, value v: Double) {
        let hue = (h - h.rounded(.down)) * 6
        let sector = Int(hue.rounded(.down)) % 6
        let f = hue - hue.rounded(.down)
        let (p, q, t) = (v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f)))
        let rgb: (Double, Double, Double)
        switch sector {
        case 0: rgb = (v, t, p)
        case 1: rgb = (q, v, p)
        case 2: rgb = (p, v, t)
        case 3: rgb = (p, q, v)
        case 4: rgb = (t, p, v)
        default: rgb = (v, p, q)
        }
        self.init(red: rgb.0 * 255, green: rgb.1 * 255, blue: rgb.2 * 255)
    }

    /// The colour `fraction` of the way from `self` to `other`.
    func mixed(with other: SceneColor, _ fraction: Double) -> SceneColor {
        SceneColor(
            red: red + (other.red - red) * fraction, green: green + (other.green - green) * fraction,
            blue: blue + (other.blue - blue) * fraction)
    }

    /// Euclidean distance in RGB.
    func distance(to other: SceneColor) -> Double {
        let (dr, dg, db) = (red - other.red, green - other.green, blue - other.blue)
        return (dr * dr + dg * dg + db * db).squareRoot()
    }
}

/// A two-colour pattern: the colour at a point is `first` mixed with `second`
/// by the pattern's value there (0...1).
///
/// Coordinates are pixels in the texture's own frame (the image's for a
/// background, the shape's rotated frame for a shape, so textures turn with it).
public struct SceneTexture: Equatable, Sendable {
    public enum Pattern: String, CaseIterable, Sendable {
        /// One colour.
        case solid
        /// A linear blend across `extent` pixels along `angle`.
        case gradient
        /// Soft-edged parallel bands of `period` pixels.
        case stripes
        /// Soft-edged squares of half `period` pixels.
        case checkers
        /// Smooth value noise with features of about `period` pixels.
        case noise
    }

    public let pattern: Pattern
    public let first: SceneColor
    public let second: SceneColor
    /// Direction of gradients and stripes, and the turn of checkers, in radians.
    public let angle: Double
    public let period: Double
    public let phase: Double
    /// Half the length a gradient runs over.
    public let extent: Double
    public let noiseSeed: UInt64
    private let cosine: Double
    private let sine: Double

    public init(
        pattern: Pattern, first: SceneColor, second: SceneColor, angle: Double, period: Double, phase: Double,
        extent: Double, noiseSeed: UInt64
    ) {
        self.pattern = pattern
        self.first = first
        self.second = second
        self.angle = angle
        self.period = period
        self.phase = phase
        self.extent = extent
        self.noiseSeed = noiseSeed
        cosine = cos(angle)
        sine = sin(angle)
    }

    /// The colour at (`x`, `y`).
    public func color(x: Double, y: Double) -> SceneColor {
        first.mixed(with: second, value(x: x, y: y))
    }

    /// The pattern's value at (`x`, `y`), in 0...1.
    public func value(x: Double, y: Double) -> Double {
        let along = x * cosine + y * sine
        let across = -x * sine + y * cosine
        switch pattern {
        case .solid:
            return 0
        case .gradient:
            return min(1, max(0, 0.5 + 0.5 * along / extent))
        case .stripes:
            return min(1, max(0, 0.5 + 1.5 * sin(2 * Double.pi * (along + phase) / period)))
        case .checkers:
            let wave =
                sin(Double.pi * (along + phase) / (period / 2)) * sin(Double.pi * (across + phase) / (period / 2))
            return min(1, max(0, 0.5 + 3 * wave))
        case .noise:
            let coarse = valueNoise(along / period, across / period, seed: noiseSeed)
            let fine = valueNoise(2 * along / period, 2 * across / period, seed: noiseSeed &+ 1)
            return 0.65 * coarse + 0.35 * fine
        }
    }

    /// Bilinearly interpolated (with smoothstep) hashes of the integer lattice.
    private func valueNoise(_ x: Double, _ y: Double, seed: UInt64) -> Double {
        let (fx, fy) = (x.rounded(.down), y.rounded(.down))
        let (ix, iy) = (Int64(fx), Int64(fy))
        let (tx, ty) = (x - fx, y - fy)
        let (sx, sy) = (tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty))
        let a = lattice(ix, iy, seed)
        let b = lattice(ix + 1, iy, seed)
        let c = lattice(ix, iy + 1, seed)
        let d = lattice(ix + 1, iy + 1, seed)
        return (a + (b - a) * sx) + ((c + (d - c) * sx) - (a + (b - a) * sx)) * sy
    }

    private func lattice(_ x: Int64, _ y: Int64, _ seed: UInt64) -> Double {
        var hash =
            seed ^ (UInt64(bitPattern: x) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(bitPattern: y) &* 0xC2B2_AE3D_27D4_EB4F)
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        hash ^= hash >> 31
        return Double(hash >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
}
