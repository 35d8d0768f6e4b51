import Foundation
import MixKit

/// timm 0.4.12's `RandomErasing`, applied to one normalised CHW image: with
/// probability `probability`, up to `maxCount` rectangles (the count drawn
/// uniformly from 1...maxCount) are replaced by zeros, one normal colour, or
/// per-pixel normal noise. Each rectangle has an area drawn uniformly from
/// `area` (fractions of the image, divided by the count) and an aspect
/// ratio (height / width) log-uniform in `aspect`; a draw that does not fit
/// strictly inside the image is retried, 10 times at most.
///
/// ```swift
/// let erase = RandomErasing(probability: 0.25, mode: .pixel)     // the reference's finetune
/// var rng = RandomGenerator(seed: 1)
/// erase(values, channels: 3, height: 224, width: 224, using: &rng)
/// ```
public struct RandomErasing: Sendable, Equatable {
    /// What erased pixels become (timm's `mode`).
    public enum Mode: String, CaseIterable, Sendable {
        /// Zero, which after normalisation is the dataset's mean colour.
        case const
        /// One standard normal value per channel for the whole rectangle.
        case rand
        /// A standard normal value for every sample.
        case pixel
    }

    /// One erased rectangle, in pixels.
    public struct Rectangle: Equatable, Sendable {
        public var top, left, height, width: Int
    }

    public var probability: Double
    public var mode: Mode
    public var maxCount: Int
    public var area: ClosedRange<Double>
    public var aspect: ClosedRange<Double>

    public init(
        probability: Double = 0.25, mode: Mode = .pixel, maxCount: Int = 1,
        area: ClosedRange<Double> = 0.02...(1.0 / 3),
        aspect: ClosedRange<Double> = 0.3...(1 / 0.3)
    ) {
        self.probability = probability
        self.mode = mode
        self.maxCount = maxCount
        self.area = area
        self.aspect = aspect
    }

    /// Erases rectangles of the `channels` x `height` x `width` floats at
    /// `values`, and returns them (empty when the probability draw said no).
    @discardableResult
    public func callAsFunction(
        _ values: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
        using rng: inout RandomGenerator
    ) -> [Rectangle] {
        if rng.nextDouble() > probability { return [] }
        let count = maxCount <= 1 ? 1 : 1 + rng.nextInt(below: maxCount)
        let imageArea = Double(height * width)
        let logAspect = (Foundation.log(aspect.lowerBound), Foundation.log(aspect.upperBound))
        var erased: [Rectangle] = []
        for _ in 0..<count {
            for _ in 0..<10 {
                let target = uniform(area.lowerBound, area.upperBound, &rng) * imageArea / Double(count)
                let ratio = Foundation.exp(uniform(logAspect.0, logAspect.1, &rng))
                let h = Int((target * ratio).squareRoot().rounded(.toNearestOrEven))
                let w = Int((target / ratio).squareRoot().rounded(.toNearestOrEven))
                guard w < width && h < height else { continue }
                let top = rng.nextInt(below: height - h + 1)
                let left = rng.nextInt(below: width - w + 1)
                let rectangle = Rectangle(top: top, left: left, height: h, width: w)
                fill(rectangle, of: values, channels: channels, height: height, width: width, using: &rng)
                erased.append(rectangle)
                break
            }
        }
        return erased
    }

    private func fill(
        _ r: Rectangle, of values: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int,
        using rng: inout RandomGenerator
    ) {
        for c in 0..<channels {
            let colour: Float = mode == .rand ? rng.nextNormal() : 0
            for y in r.top..<(r.top + r.height) {
                let row = values + (c * height + y) * width + r.left
                for x in 0..<r.width { row[x] = mode == .pixel ? rng.nextNormal() : colour }
            }
        }
    }

    /// Python's `random.uniform(a, b)`: `a + (b - a) * u`.
    private func uniform(_ a: Double, _ b: Double, _ rng: inout RandomGenerator) -> Double {
        a + (b - a) * rng.nextDouble()
    }
}
