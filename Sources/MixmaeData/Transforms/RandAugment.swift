import Foundation
import MixKit

/// One of timm 0.4.12's RandAugment operations (`NAME_TO_OP` with its
/// `LEVEL_TO_ARG` mapping), on an 8-bit RGB or grayscale image.
///
/// The "increasing" variants grow stronger with the magnitude (the set
/// `rand-...-inc1` uses); the others are timm's originals.
///
///     let op = RandAugmentOp.shearX
///     let shear = op.argument(magnitude: 9, negated: false)           // 0.27
///     let out = try op.apply(to: image, argument: shear, fill: [124, 116, 104])
public enum RandAugmentOp: String, CaseIterable, Sendable {
    case autoContrast = "AutoContrast"
    case equalize = "Equalize"
    case invert = "Invert"
    case rotate = "Rotate"
    case posterize = "Posterize"
    case posterizeIncreasing = "PosterizeIncreasing"
    case solarize = "Solarize"
    case solarizeIncreasing = "SolarizeIncreasing"
    case solarizeAdd = "SolarizeAdd"
    case color = "Color"
    case colorIncreasing = "ColorIncreasing"
    case contrast = "Contrast"
    case contrastIncreasing = "ContrastIncreasing"
    case brightness = "Brightness"
    case brightnessIncreasing = "BrightnessIncreasing"
    case sharpness = "Sharpness"
    case sharpnessIncreasing = "SharpnessIncreasing"
    case shearX = "ShearX"
    case shearY = "ShearY"
    case translateXRel = "TranslateXRel"
    case translateYRel = "TranslateYRel"

    /// timm's `_RAND_TRANSFORMS`, the ops of a config without `inc`.
    public static let standardSet: [RandAugmentOp] = [
        .autoContrast, .equalize, .invert, .rotate, .posterize, .solarize, .solarizeAdd, .color, .contrast,
        .brightness, .sharpness, .shearX, .shearY, .translateXRel, .translateYRel,
    ]

    /// timm's `_RAND_INCREASING_TRANSFORMS`, the ops of `inc1`.
    public static let increasingSet: [RandAugmentOp] = [
        .autoContrast, .equalize, .invert, .rotate, .posterizeIncreasing, .solarizeIncreasing, .solarizeAdd,
        .colorIncreasing, .contrastIncreasing, .brightnessIncreasing, .sharpnessIncreasing, .shearX, .shearY,
        .translateXRel, .translateYRel,
    ]

    /// The magnitude scale's top (timm's `_MAX_LEVEL`).
    public static let maxLevel = 10.0

    /// Whether timm negates the argument with probability 1/2 (`_randomly_negate`).
    public var isSigned: Bool {
        switch self {
        case .rotate, .colorIncreasing, .contrastIncreasing, .brightnessIncreasing, .sharpnessIncreasing, .shearX,
            .shearY, .translateXRel, .translateYRel:
            return true
        default:
            return false
        }
    }

    /// timm's level-to-argument mapping at `magnitude` (0...10); `negated` is
    /// the random sign of the signed ops (ignored by the others). Nil for the
    /// ops without an argument. `translatePercent` is timm's `translate_pct`.
    public func argument(magnitude: Double, negated: Bool, translatePercent: Double = 0.45) -> Double? {
        let level = magnitude / RandAugmentOp.maxLevel
        func signed(_ value: Double) -> Double { negated ? -value : value }
        switch self {
        case .autoContrast, .equalize, .invert: return nil
        case .rotate: return signed(level * 30)
        case .posterize: return Double(Int(level * 4))
        case .posterizeIncreasing: return Double(4 - Int(level * 4))
        case .solarize: return Double(Int(level * 256))
        case .solarizeIncreasing: return Double(256 - Int(level * 256))
        case .solarizeAdd: return Double(Int(level * 110))
        case .color, .contrast, .brightness, .sharpness: return level * 1.8 + 0.1
        case .colorIncreasing, .contrastIncreasing, .brightnessIncreasing, .sharpnessIncreasing:
            return 1.0 + signed(level * 0.9)
        case .shearX, .shearY: return signed(level * 0.3)
        case .translateXRel, .translateYRel: return signed(level * translatePercent)
        }
    }

    /// The op applied with `argument` (from ``argument(magnitude:negated:translatePercent:)``),
    /// as timm calls PIL: geometric ops resample bicubically and fill uncovered
    /// pixels with `fill` (one value per channel).
    public func apply(to image: Image, argument: Double?, fill: [UInt8]) throws -> Image {
        let value = argument ?? 0
        switch self {
        case .autoContrast: return try image.autocontrasted()
        case .equalize: return try image.equalized()
        case .invert: return try image.inverted()
        case .rotate: return try image.rotated(degrees: value, fill: fill)
        case .posterize, .posterizeIncreasing: return try image.posterized(keepingBits: Int(value))
        case .solarize, .solarizeIncreasing: return try image.solarized(threshold: Int(value))
        case .solarizeAdd: return try image.solarizeAdded(Int(value), threshold: 128)
        case .color, .colorIncreasing: return try image.enhanced(.color, factor: value)
        case .contrast, .contrastIncreasing: return try image.enhanced(.contrast, factor: value)
        case .brightness, .brightnessIncreasing: return try image.enhanced(.brightness, factor: value)
        case .sharpness, .sharpnessIncreasing: return try image.enhanced(.sharpness, factor: value)
        case .shearX: return try image.affineTransformed(AffineMap(a: 1, b: value, c: 0, d: 0, e: 1, f: 0), fill: fill)
        case .shearY: return try image.affineTransformed(AffineMap(a: 1, b: 0, c: 0, d: value, e: 1, f: 0), fill: fill)
        case .translateXRel:
            let pixels = value * Double(image.width)
            return try image.affineTransformed(AffineMap(a: 1, b: 0, c: pixels, d: 0, e: 1, f: 0), fill: fill)
        case .translateYRel:
            let pixels = value * Double(image.height)
            return try image.affineTransformed(AffineMap(a: 1, b: 0, c: 0, d: 0, e: 1, f: pixels), fill: fill)
        }
    }
}

/// A mistake in a RandAugment configuration string.
public struct RandAugmentConfigError: Error, CustomStringConvertible, Equatable {
    public let config: String
    public let message: String
    public var description: String { "RandAugment config '\(config)': \(message)" }
}

/// timm 0.4.12's `RandAugment` as `rand_augment_transform(config, hparams)`
/// builds it: per image, `layers` ops drawn uniformly with replacement; each
/// is applied with probability `probability` (0.5), at a magnitude drawn from
/// a normal distribution around `magnitude` with `magnitudeStd` (clipped to
/// 0...10), with a random sign for the signed ops.
///
/// ```swift
/// var rng = RandomGenerator(seed: 7)
/// let augment = try RandAugment(config: "rand-m9-mstd0.5-inc1", fill: RandAugment.fill(mean: [0.485, 0.456, 0.406]))
/// let out = try augment(image, using: &rng)
/// ```
public struct RandAugment: Sendable, Equatable {
    /// The ops to choose from.
    public var ops: [RandAugmentOp]
    /// Ops drawn per image (timm's `num_layers`, `n` in the config).
    public var layers: Int
    /// The mean magnitude, 0...10 (`m`).
    public var magnitude: Double
    /// The standard deviation of the magnitude noise (`mstd`); 0 for none.
    public var magnitudeStd: Double
    /// The chance that each drawn op is applied.
    public var probability: Double
    /// The colour of pixels that geometric ops uncover, per channel.
    public var fill: [UInt8]
    /// Translation range as a fraction of the image side (timm's `translate_pct`).
    public var translatePercent: Double

    public init(
        ops: [RandAugmentOp] = RandAugmentOp.increasingSet, layers: Int = 2, magnitude: Double = 9,
        magnitudeStd: Double = 0.5, probability: Double = 0.5, fill: [UInt8] = [124, 116, 104],
        translatePercent: Double = 0.45
    ) {
        self.ops = ops
        self.layers = layers
        self.magnitude = magnitude
        self.magnitudeStd = magnitudeStd
        self.probability = probability
        self.fill = fill
        self.translatePercent = translatePercent
    }

    /// Parses timm's config string: `rand` followed by dash-separated sections
    /// `m<int>` (magnitude, default 10), `n<int>` (ops per image, default 2),
    /// `mstd<float>` (magnitude noise, default 0) and `inc1` (the increasing
    /// ops; without it the standard ones), e.g. `rand-m9-mstd0.5-inc1`.
    /// timm's weighted choice (`w`) is not supported; `inc0` is refused because
    /// timm 0.4.12 reads any `inc` value as on.
    public init(config: String, fill: [UInt8] = [124, 116, 104]) throws {
        func fail(_ message: String) -> RandAugmentConfigError {
            RandAugmentConfigError(config: config, message: message)
        }
        let sections = config.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard sections.first == "rand" else {
            throw fail("must start with 'rand' (e.g. rand-m9-mstd0.5-inc1)")
        }
        self.init(
            ops: RandAugmentOp.standardSet, layers: 2, magnitude: RandAugmentOp.maxLevel, magnitudeStd: 0, fill: fill)
        for section in sections.dropFirst() {
            guard let digit = section.firstIndex(where: \.isNumber) else {
                throw fail("section '\(section)' has no value: use m<int>, n<int>, mstd<float> or inc1")
            }
            let key = String(section[..<digit])
            let value = String(section[digit...])
            switch key {
            case "m":
                guard let m = Int(value), (0...Int(RandAugmentOp.maxLevel)).contains(m) else {
                    throw fail("magnitude '\(section)' must be an integer 0...10")
                }
                magnitude = Double(m)
            case "n":
                guard let n = Int(value), n >= 0 else { throw fail("'\(section)' must be a count of ops, e.g. n2") }
                layers = n
            case "mstd":
                guard let std = Double(value), std >= 0, std.isFinite else {
                    throw fail("'\(section)' must be a non-negative standard deviation, e.g. mstd0.5")
                }
                magnitudeStd = std
            case "inc":
                guard value == "1" else {
                    throw fail("'\(section)': timm 0.4.12 treats every inc value as inc1; write inc1 or leave it out")
                }
                ops = RandAugmentOp.increasingSet
            case "w":
                throw fail("weighted op choice ('\(section)') is not supported: leave it out for uniform choice")
            default:
                throw fail("unknown section '\(section)': use m<int>, n<int>, mstd<float> or inc1")
            }
        }
    }

    /// timm's `img_mean` hyperparameter: the normalisation mean in 0...255,
    /// rounded half to even as Python's `round`.
    ///
    ///     RandAugment.fill(mean: [0.485, 0.456, 0.406])   // [124, 116, 104]
    public static func fill(mean: [Double]) -> [UInt8] {
        mean.map { UInt8(clamping: Int(min(255, (255 * $0).rounded(.toNearestOrEven)))) }
    }

    /// One op as drawn for an image: which, and its argument.
    public struct Step: Equatable, Sendable {
        public var op: RandAugmentOp
        public var argument: Double?
    }

    /// The ops drawn for one image, in order, leaving out those skipped by
    /// the probability draw.
    public func draw(using rng: inout RandomGenerator) -> [Step] {
        guard !ops.isEmpty else { return [] }
        let chosen = (0..<layers).map { _ in ops[rng.nextInt(below: ops.count)] }
        var steps: [Step] = []
        for op in chosen {
            if probability < 1 && rng.nextDouble() > probability { continue }
            var level = magnitude
            if magnitudeStd > 0 { level = magnitude + magnitudeStd * Double(rng.nextNormal()) }
            level = min(RandAugmentOp.maxLevel, max(0, level))
            let negated = op.isSigned ? rng.nextDouble() > 0.5 : false
            steps.append(
                Step(
                    op: op,
                    argument: op.argument(magnitude: level, negated: negated, translatePercent: translatePercent)))
        }
        return steps
    }

    /// The image with the drawn ops applied in turn.
    public func callAsFunction(_ image: Image, using rng: inout RandomGenerator) throws -> Image {
        var out = image
        for step in draw(using: &rng) {
            out = try step.op.apply(to: out, argument: step.argument, fill: fill)
        }
        return out
    }
}
