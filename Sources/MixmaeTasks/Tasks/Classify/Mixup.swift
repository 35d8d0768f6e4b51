import Foundation
import MixKit

/// Samples from Gamma and Beta distributions with a ``RandomGenerator``
/// (Marsaglia and Tsang's method), for mixup and cutmix.
public enum BetaSampler {
    public static func gamma(_ shape: Double, using rng: inout RandomGenerator) -> Double {
        if shape < 1 {
            // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
            let u = max(rng.nextDouble(), 1e-300)
            return gamma(shape + 1, using: &rng) * Foundation.pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = Double(rng.nextNormal())
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = rng.nextDouble()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if Foundation.log(max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v }
        }
    }

    /// A draw from Beta(a, b).
    public static func beta(_ a: Double, _ b: Double, using rng: inout RandomGenerator) -> Double {
        let x = gamma(a, using: &rng)
        let y = gamma(b, using: &rng)
        return x / (x + y)
    }
}

/// Batch-level mixup and cutmix with label smoothing, as timm's `Mixup`
/// (mode "batch", `correct_lam`): with probability `probability` a batch is
/// mixed with its reverse, by cutmix with probability `switchProbability` when
/// both are on, else by mixup; targets become `lam * y + (1 - lam) * y.flip`,
/// each one-hot smoothed to `1 - s + s/K` and `s/K`.
///
/// ```swift
/// var mix = MixupCutmix(mixupAlpha: 0.8, cutmixAlpha: 1, probability: 1, switchProbability: 0.5,
///                       labelSmoothing: 0.1, classes: 1000)
/// let (images, targets) = mix.apply(batch.images, labels: batch.labels, using: &rng)
/// ```
public struct MixupCutmix: Sendable {
    public var mixupAlpha: Double
    public var cutmixAlpha: Double
    public var probability: Double
    public var switchProbability: Double
    public var labelSmoothing: Double
    public var classes: Int

    public init(
        mixupAlpha: Double, cutmixAlpha: Double, probability: Double, switchProbability: Double,
        labelSmoothing: Double, classes: Int
    ) {
        self.mixupAlpha = mixupAlpha
        self.cutmixAlpha = cutmixAlpha
        self.probability = probability
        self.switchProbability = switchProbability
        self.labelSmoothing = labelSmoothing
        self.classes = classes
    }

    /// How one batch is mixed.
    public struct Draw: Equatable, Sendable {
        /// Weight of the batch itself (1 = untouched).
        public var lambda: Double
        /// The pasted rectangle (x0, y0, x1, y1) for cutmix; nil for mixup.
        public var box: (Int, Int, Int, Int)?

        public static func == (a: Draw, b: Draw) -> Bool {
            a.lambda == b.lambda && a.box.map { [$0.0, $0.1, $0.2, $0.3] } == b.box.map { [$0.0, $0.1, $0.2, $0.3] }
        }
    }

    /// Draws lambda (and the cutmix box) for a batch of `height` x `width` images.
    public func draw(height: Int, width: Int, using rng: inout RandomGenerator) -> Draw {
        guard (mixupAlpha > 0 || cutmixAlpha > 0), rng.nextDouble() < probability else {
            return Draw(lambda: 1, box: nil)
        }
        let useCutmix: Bool
        let lambda: Double
        if mixupAlpha > 0 && cutmixAlpha > 0 {
            useCutmix = rng.nextDouble() < switchProbability
            lambda = BetaSampler.beta(
                useCutmix ? cutmixAlpha : mixupAlpha, useCutmix ? cutmixAlpha : mixupAlpha, using: &rng)
        } else if mixupAlpha > 0 {
            useCutmix = false
            lambda = BetaSampler.beta(mixupAlpha, mixupAlpha, using: &rng)
        } else {
            useCutmix = true
            lambda = BetaSampler.beta(cutmixAlpha, cutmixAlpha, using: &rng)
        }
        guard useCutmix else { return Draw(lambda: lambda, box: nil) }
        let ratio = (1 - lambda).squareRoot()
        let cutH = Int(Double(height) * ratio)
        let cutW = Int(Double(width) * ratio)
        let cy = rng.nextInt(below: height)
        let cx = rng.nextInt(below: width)
        let y0 = min(max(cy - cutH / 2, 0), height)
        let y1 = min(max(cy + cutH / 2, 0), height)
        let x0 = min(max(cx - cutW / 2, 0), width)
        let x1 = min(max(cx + cutW / 2, 0), width)
        let corrected = 1 - Double((y1 - y0) * (x1 - x0)) / Double(height * width)
        return Draw(lambda: corrected, box: (x0, y0, x1, y1))
    }

    /// Smoothed, mixed targets `[B, classes]` for `labels` under `lambda`.
    public func targets(_ labels: [Int], lambda: Double) -> Tensor {
        let b = labels.count
        let off = Float(labelSmoothing / Double(classes))
        let on = Float(1 - labelSmoothing) + off
        let t = Tensor.full([b, classes], off)
        let l = Float(lambda)
        for i in 0..<b {
            let row = t.data + i * classes
            row[labels[i]] += (on - off) * l
            row[labels[b - 1 - i]] += (on - off) * (1 - l)
        }
        return t
    }

    /// The mixed images and their targets.
    public func apply(_ images: Tensor, labels: [Int], using rng: inout RandomGenerator) -> (Tensor, Tensor) {
        let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let d = draw(height: h, width: w, using: &rng)
        guard d.lambda < 1 else { return (images, targets(labels, lambda: 1)) }
        let out = images.copy()
        if let (x0, y0, x1, y1) = d.box {
            for i in 0..<b {
                for ch in 0..<c {
                    for y in y0..<y1 {
                        let dst = out.data + ((i * c + ch) * h + y) * w
                        let src = images.data + (((b - 1 - i) * c + ch) * h + y) * w
                        for x in x0..<x1 { dst[x] = src[x] }
                    }
                }
            }
        } else {
            let l = Float(d.lambda)
            let plane = c * h * w
            for i in 0..<b {
                let dst = out.data + i * plane
                let a = images.data + i * plane
                let p = images.data + (b - 1 - i) * plane
                for k in 0..<plane { dst[k] = a[k] * l + p[k] * (1 - l) }
            }
        }
        return (out, targets(labels, lambda: d.lambda))
    }
}
