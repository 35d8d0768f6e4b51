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
    /// How each batch is cut into micro-batches and which of them this process loads.
    public let split: BatchSplit

    public init(
        sampleCount: Int, batchSize: Int, seed: UInt64, shuffle: Bool = true, dropLast: Bool = true,
        split: BatchSplit = .whole
    ) {
        precondition(batchSize > 0, "EpochSchedule: batch size must be positive, got \(batchSize)")
        precondition(
            batchSize % split.parts == 0 && (split.parts == 1 || dropLast),
            "EpochSchedule: \(split.parts) micro-batches need full batches divisible by them, got \(batchSize)")
        self.sampleCount = sampleCount
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.split = split
    }

    /// Images in one item the iterator hands out: a micro-batch.
    public var microBatchSize: Int { batchSize / split.parts }

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

    /// The positions (indices into the epoch's order) of item `index` of the
    /// iterator: batch `index` when the batch is whole, else this process's
    /// micro-batch `index % perProcess` of batch `index / perProcess`.
    public func positions(ofBatch index: Int) -> Range<Int> {
        let perProcess = split.accumulation
        let batch = index / perProcess
        let micro = split.globalIndex(ofLocal: index % perProcess)
        let start = batch * batchSize + micro * microBatchSize
        return start..<min(start + microBatchSize, sampleCount)
    }

    /// The generator of the sample at `position` of `epoch`.
    public func generator(epoch: Int, position: Int) -> RandomGenerator {
        RandomGenerator(seed: derivedSeed(seed, UInt64(epoch), UInt64(position)))
    }

    /// Batches `first`, `first + every`, `first + 2 every`, ... of `epoch`, each made by
    /// `makeBatch(order, batchIndex)`: one process's share of an evaluation spread over
    /// `every` processes, every batch exactly as one process makes it.
    ///
    /// ```swift
    /// let mine = schedule.batches(epoch: 0, every: 2, from: 1, workers: 2, prefetch: 2) { order, b in b }
    /// ```
    public func batches<Item>(
        epoch: Int, every: Int, from first: Int, workers: Int, prefetch: Int,
        makeBatch: @escaping ([Int], Int) throws -> Item
    ) -> PrefetchingIterator<Item> {
        precondition(
            split == .whole && every > 0 && (0..<every).contains(first),
            "EpochSchedule: a share of whole batches needs 0 <= first < every, got \(first) of \(every)")
        let order = order(epoch: epoch)
        let count = max(0, (batchesPerEpoch - first + every - 1) / every)
        return PrefetchingIterator(count: count, workers: workers, prefetch: prefetch) { k in
            try makeBatch(order, first + k * every)
        }
    }

    /// The items of `epoch` from batch `skip` on (``BatchSplit/accumulation`` micro-batches
    /// per batch), each made by `makeBatch(order, itemIndex)` on `workers` background threads.
    public func batches<Item>(
        epoch: Int, skip: Int, workers: Int, prefetch: Int,
        makeBatch: @escaping ([Int], Int) throws -> Item
    ) -> PrefetchingIterator<Item> {
        let order = order(epoch: epoch)
        let perProcess = split.accumulation
        let count = max(0, batchesPerEpoch - skip) * perProcess
        return PrefetchingIterator(count: count, workers: workers, prefetch: prefetch) { k in
            try makeBatch(order, k + skip * perProcess)
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

/// How one optimizer step's batch is cut: into `accumulation * processes`
/// micro-batches of equal size, of which process `rank` loads the
/// `accumulation` consecutive ones starting at `rank * accumulation`
/// (DistributedSampler semantics: every process walks the same order of the
/// epoch and takes a disjoint part of each batch). The micro-batch of a
/// position does not depend on how many processes there are, so a batch gives
/// the same images to 1 process with 4 micro-batches as to 2 with 2 each.
///
/// ```swift
/// let split = BatchSplit(accumulation: 2, processes: 2, rank: 1)   // micro-batches 2 and 3 of 4
/// ```
public struct BatchSplit: Sendable, Equatable {
    /// Micro-batches per process and step.
    public let accumulation: Int
    public let processes: Int
    public let rank: Int

    public init(accumulation: Int, processes: Int, rank: Int) {
        precondition(accumulation > 0 && processes > 0 && (0..<processes).contains(rank), "BatchSplit: bad values")
        self.accumulation = accumulation
        self.processes = processes
        self.rank = rank
    }

    /// One micro-batch, one process.
    public static let whole = BatchSplit(accumulation: 1, processes: 1, rank: 0)

    /// Micro-batches per step over all processes.
    public var parts: Int { accumulation * processes }

    /// The index among all of a step's micro-batches of this process's micro-batch `local`.
    public func globalIndex(ofLocal local: Int) -> Int { rank * accumulation + local }
}
