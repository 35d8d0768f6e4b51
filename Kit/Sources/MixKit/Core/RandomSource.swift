import Synchronization

/// A seeded generator shared by reference: the randomness of one model, task
/// or data loader.
///
/// MixKit has no global generator. Whoever builds a model makes one
/// `RandomSource` and hands it to every layer of the model (a plugin gets it
/// from ``BuildContext/rng``): parameter initialisation draws from it when the
/// layers are built, and dropout and drop path draw from it in forward. Two
/// models built from sources with the same seed are identical and train
/// identically, whatever else runs in the process at the same time. Tasks
/// (MixMAE's masks) and data loaders own sources (or ``RandomGenerator``
/// values) of their own.
///
/// The sequence is the one of ``RandomGenerator`` for the seed; ``state``
/// snapshots it for checkpoints and ``restore(_:)`` continues from a snapshot,
/// so that a resumed run draws exactly what an uninterrupted one would.
///
/// ```swift
/// let rng = RandomSource(seed: 0)
/// let mlp = MLP(64, hidden: 256, dropRate: 0.1, rng: rng)   // weights from rng
/// let y = mlp(x)                                             // dropout masks from rng
/// let saved = rng.state                                      // into a checkpoint
/// ```
///
/// A source may be used from several threads; each draw (or
/// ``withGenerator(_:)`` block) is atomic. Draws from several threads come in
/// an order that depends on scheduling, so a model that must reproduce keeps
/// its forward passes on one thread at a time.
public final class RandomSource: Sendable {
    private let generator: Mutex<RandomGenerator>

    /// A source starting at `seed` (the sequence of ``RandomGenerator/init(seed:)``).
    public init(seed: UInt64) {
        generator = Mutex(RandomGenerator(seed: seed))
    }

    /// A source continuing exactly where the one that produced `state` stood;
    /// nil when `state` is not a ``RandomGenerator/state``.
    public convenience init?(state: [UInt64]) {
        guard let restored = RandomGenerator(state: state) else { return nil }
        self.init(restored)
    }

    /// A source continuing from `generator`'s current state.
    public init(_ generator: RandomGenerator) {
        self.generator = Mutex(generator)
    }

    /// The full state, for checkpoints.
    public var state: [UInt64] { generator.withLock { $0.state } }

    /// Continues from a snapshot taken with ``state``; false (and no change)
    /// when `state` is not one.
    @discardableResult
    public func restore(_ state: [UInt64]) -> Bool {
        guard let restored = RandomGenerator(state: state) else { return false }
        generator.withLock { $0 = restored }
        return true
    }

    /// Runs `body` with exclusive use of the generator: many draws for the
    /// price of one lock.
    ///
    /// ```swift
    /// let mask = rng.withGenerator { g in (0..<n).map { _ in g.nextUniform() < p } }
    /// ```
    public func withGenerator<R>(_ body: (inout RandomGenerator) throws -> R) rethrows -> R {
        try generator.withLock { try body(&$0) }
    }

    /// A uniform float in [0, 1).
    public func nextUniform() -> Float { withGenerator { $0.nextUniform() } }

    /// A uniform double in [0, 1).
    public func nextDouble() -> Double { withGenerator { $0.nextDouble() } }

    /// A standard normal value.
    public func nextNormal() -> Float { withGenerator { $0.nextNormal() } }

    /// A uniform integer in `0..<bound`.
    public func nextInt(below bound: Int) -> Int { withGenerator { $0.nextInt(below: bound) } }
}

extension Tensor {
    /// Normally distributed values drawn from `rng`.
    ///
    /// ```swift
    /// let w = Tensor.randomNormal([64, 32], std: 0.02, using: rng)
    /// ```
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, using rng: RandomSource)
        -> Tensor
    {
        rng.withGenerator { randomNormal(shape, mean: mean, std: std, using: &$0) }
    }

    /// Uniform values in `[low, high)` drawn from `rng`.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, using rng: RandomSource)
        -> Tensor
    {
        rng.withGenerator { randomUniform(shape, low: low, high: high, using: &$0) }
    }

    /// Normal values redrawn until inside `[low, high]`, drawn from `rng` (timm's `trunc_normal_`).
    public static func truncatedNormal(
        _ shape: [Int], mean: Float = 0, std: Float = 1, low: Float = -2, high: Float = 2, using rng: RandomSource
    ) -> Tensor {
        rng.withGenerator { truncatedNormal(shape, mean: mean, std: std, low: low, high: high, using: &$0) }
    }
}
