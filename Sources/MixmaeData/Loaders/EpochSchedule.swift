import Foundation
import MixKit
import MixmaeSupport

/// The part of batch loading every loader shares: which sample sits at which
/// position of an epoch, which positions make up a batch, and the generator
/// each position draws its augmentation from.
///
/// The order of an epoch is a permutation drawn from (seed, epoch), and the
/// generator of a position is seeded from (seed, epoch, position), so batches
/// depend neither on thread timing nor on where a resumed run starts.
///
/// ```swift
/// let schedule = EpochSchedule(sampleCount: 1000, batchSize: 32, seed: 7)
/// let order = schedule.order(epoch: 3)
/// for position in schedule.positions(ofBatch: 0) {
///     var rng = schedule.generator(epoch: 3, position: position)
///     let sample = order[position]
///     ...
/// }
/// ```
public struct EpochSchedule: Sendable, Equatable {
    public let sampleCount: Int
    public let batchSize: Int
    public let seed: UInt64
    /// False: every epoch visits the samples in their stored order.
    public let shuffle: Bool
    /// True: a last partial batch is dropped (training); false: it is kept (evaluation).
    public let dropLast: Bool

    public init(sampleCount: Int, batchSize: Int, seed: UInt64, shuffle: Bool = true, dropLast: Bool = true) {
        precondition(batchSize > 0, "EpochSchedule: batch size must be positive, got \(batchSize)")
        self.sampleCount = sampleCount
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
    }

    /// Batches per epoch: full batches only when `dropLast`, else every sample once.
    public var batchesPerEpoch: Int {
        dropLast ? sampleCount / batchSize : (sampleCount + batchSize - 1) / batchSize
    }

    /// The sample order of `epoch`.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<sampleCount) }
        var rng = RandomGenerator(seed: derivedSeed(seed, UInt64(epoch), 0x5348_5546))
        return rng.permutation(sampleCount)
    }

    /// The positions (indices into the epoch's order) of batch `index`.
    public func positions(ofBatch index: Int) -> Range<Int> {
        (index * batchSize)..<min((index + 1) * batchSize, sampleCount)
    }

    /// The generator of the sample at `position` of `epoch`.
    public func generator(epoch: Int, position: Int) -> RandomGenerator {
        RandomGenerator(seed: derivedSeed(seed, UInt64(epoch), UInt64(position)))
    }

    /// The batches of `epoch` from batch `skip` on, each made by `makeBatch(order, batchIndex)`
    /// on `workers` background threads.
    public func batches<Item>(
        epoch: Int, skip: Int, workers: Int, prefetch: Int,
        makeBatch: @escaping ([Int], Int) throws -> Item
    ) -> PrefetchingIterator<Item> {
        let order = order(epoch: epoch)
        let count = max(0, batchesPerEpoch - skip)
        return PrefetchingIterator(count: count, workers: workers, prefetch: prefetch) { k in
            try makeBatch(order, k + skip)
        }
    }
}

extension BrokenImageLog {
    /// Reads the sample at `position` of `order` with `read`; when that fails
    /// and `skipBroken` is true, records the failure and tries the next sample
    /// in the order, and so on. `path` names a sample in reports.
    ///
    /// `rng` is handed to every attempt, so a replacement sample draws from the
    /// generator of the position it fills.
    public func read<Sample>(
        order: [Int], position: Int, skipBroken: Bool, rng: inout RandomGenerator,
        path: (Int) -> String, read: (Int, inout RandomGenerator) throws -> Sample
    ) throws -> Sample {
        var attempt = 0
        while true {
            let index = order[(position + attempt) % order.count]
            do {
                return try read(index, &rng)
            } catch {
                guard skipBroken else { throw error }
                record(path(index), error)
                try check(total: order.count)
                attempt += 1
                if attempt >= order.count {
                    throw InputError(
                        file: path(index),
                        problem:
                            "cannot be read, and neither can any other of the dataset's \(order.count) images "
                            + "(each is in a warning above): check that the recipe's data paths point at the images")
                }
            }
        }
    }
}
