import MixKit

/// One batch from a data source: images `[B, C, H, W]` and what the task needs besides.
public struct Batch {
    public var images: Tensor
    /// Class labels, for classification.
    public var labels: [Int]
    /// Task-specific targets (boxes, label maps), opaque to the loop.
    public var targets: Any?
    /// Which micro-batch of which optimizer step this is; the training loop sets it,
    /// and tasks seed what they draw per batch (masks, mixup) from it.
    public var position: MicroBatchPosition?

    public init(images: Tensor, labels: [Int] = [], targets: Any? = nil) {
        self.images = images
        self.labels = labels
        self.targets = targets
    }
}

/// A source of training batches whose order is fixed by (seed, epoch), so a
/// resumed run sees the same batches as an uninterrupted one.
public protocol BatchSource: AnyObject {
    /// Full batches (optimizer steps) per epoch (a last partial batch is dropped, as the reference does).
    var batchesPerEpoch: Int { get }
    /// The batches of `epoch`, skipping the first `skip` of them: with a ``BatchSplit``,
    /// this process's micro-batches of each batch in turn.
    func batches(epoch: Int, skip: Int) -> BatchIterator
}

/// Micro-batch `index` (counted over all processes) of optimizer step `step`.
///
/// ```swift
/// var rng = position.generator(seed: taskSeed)   // the same on any number of processes
/// ```
public struct MicroBatchPosition: Sendable, Equatable {
    public var step: Int
    public var index: Int

    public init(step: Int, index: Int) {
        self.step = step
        self.index = index
    }

    /// A generator that depends only on (seed, step, index).
    public func generator(seed: UInt64) -> RandomGenerator {
        RandomGenerator(seed: derivedSeed(seed, UInt64(step), UInt64(index), 0x4D49_4352_4F))
    }
}
