import Foundation
import MixKit

/// What every batch loader shares: batch size, sample order, background
/// threads, normalisation, and what to do with a file that cannot be read.
///
/// ```swift
/// let train = LoaderOptions(batchSize: 16, seed: 7)
/// let val = LoaderOptions.evaluation(batchSize: 16)   // every sample once, in order
/// let loader = DetectionBatchLoader(dataset: dataset, options: val, transform: transform)
/// ```
public struct LoaderOptions {
    public var batchSize: Int
    /// Seeds the epoch orders and every sample's augmentation.
    public var seed: UInt64
    /// Background threads preparing batches (0: on the consumer's thread).
    public var workers: Int
    /// A new order each epoch (training), or the dataset's order (evaluation).
    public var shuffle: Bool
    /// Drop a last partial batch (training) or keep it (evaluation).
    public var dropLast: Bool
    /// Replace an unreadable image by the next one in the order (counted in
    /// ``broken``), or fail the epoch with the file's error.
    public var skipBroken: Bool
    public var normalization: Normalization
    public var broken: BrokenImageLog
    /// Batches prepared ahead of the consumer, per worker.
    public var prefetch: Int
    /// Micro-batches and the share of this process (training over several processes
    /// or with gradient accumulation).
    public var split: BatchSplit = .whole

    public init(
        batchSize: Int, seed: UInt64, workers: Int = 2, shuffle: Bool = true, dropLast: Bool = true,
        skipBroken: Bool = true, normalization: Normalization = .imagenet, broken: BrokenImageLog = BrokenImageLog(),
        prefetch: Int = 2
    ) {
        self.batchSize = batchSize
        self.seed = seed
        self.workers = workers
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.skipBroken = skipBroken
        self.normalization = normalization
        self.broken = broken
        self.prefetch = prefetch
    }

    /// Every sample once, in the dataset's order, the last batch kept.
    public static func evaluation(
        batchSize: Int, workers: Int = 2, skipBroken: Bool = true, normalization: Normalization = .imagenet
    ) -> LoaderOptions {
        LoaderOptions(
            batchSize: batchSize, seed: 0, workers: workers, shuffle: false, dropLast: false, skipBroken: skipBroken,
            normalization: normalization)
    }

    /// Which of `sampleCount` samples goes where in each epoch.
    public func schedule(sampleCount: Int) -> EpochSchedule {
        EpochSchedule(
            sampleCount: sampleCount, batchSize: batchSize, seed: seed, shuffle: shuffle, dropLast: dropLast,
            split: split)
    }

    /// The batches of `epoch` from batch `skip` on, each made by `makeBatch(order, batchIndex)`
    /// on the background threads.
    func batches<Item>(
        _ schedule: EpochSchedule, epoch: Int, skip: Int, makeBatch: @escaping ([Int], Int) throws -> Item
    ) -> PrefetchingIterator<Item> {
        schedule.batches(epoch: epoch, skip: skip, workers: workers, prefetch: prefetch, makeBatch: makeBatch)
    }

    /// The samples of batch `batchIndex` of `epoch`, each read by `read` with the
    /// generator of its position; a broken file is replaced or fails as ``skipBroken`` says.
    func samples<Sample>(
        ofBatch batchIndex: Int, _ schedule: EpochSchedule, epoch: Int, order: [Int], path: (Int) -> String,
        read: (Int, inout RandomGenerator) throws -> Sample
    ) throws -> [Sample] {
        try schedule.positions(ofBatch: batchIndex).map { position in
            var rng = schedule.generator(epoch: epoch, position: position)
            return try broken.read(
                order: order, position: position, skipBroken: skipBroken, rng: &rng, path: path, read: read)
        }
    }
}
