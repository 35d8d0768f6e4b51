import MixKit
import MixmaeData

/// Draws MixMAE's batch mask on the final-stage grid, as the reference's
/// `random_masking`: the ratio is `ratio + U(0, extraRatio)`, and exactly
/// `Int(L * ratio)` grid cells, chosen uniformly, are set to 1.
///
/// ```swift
/// var sampler = MaskSampler(height: 7, width: 7, ratio: 0.5, extraRatio: 0, seed: 0)
/// let mask = sampler.next()   // 24 ones out of 49
/// ```
public struct MaskSampler {
    public let height: Int
    public let width: Int
    public let ratio: Double
    public let extraRatio: Double
    /// The generator's state, saved in checkpoints so that a resumed run draws the same masks.
    public var generator: RandomGenerator
    /// The seed of the masks drawn per micro-batch (``mask(at:)``).
    public let seed: UInt64

    public init(height: Int, width: Int, ratio: Double, extraRatio: Double, seed: UInt64) {
        self.height = height
        self.width = width
        self.ratio = ratio
        self.extraRatio = extraRatio
        self.generator = RandomGenerator(seed: seed)
        self.seed = seed
    }

    /// The next mask of the sampler's own stream.
    public mutating func next() -> MixingMask { draw(using: &generator) }

    /// The mask of micro-batch `position`: it depends only on (seed, step, micro-batch
    /// index), so a run draws the same masks on any number of processes.
    public func mask(at position: MicroBatchPosition) -> MixingMask {
        var rng = position.generator(seed: seed)
        return draw(using: &rng)
    }

    private func draw(using generator: inout RandomGenerator) -> MixingMask {
        let cells = height * width
        let r = ratio + (extraRatio > 0 ? generator.nextDouble() * extraRatio : 0)
        let count = min(cells, Int(Double(cells) * r))
        var values = [UInt8](repeating: 0, count: cells)
        for i in generator.permutation(cells).prefix(count) { values[i] = 1 }
        return MixingMask(height: height, width: width, values: values)
    }
}
