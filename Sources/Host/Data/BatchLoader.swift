import Foundation
import MixKit

/// Batches in order, possibly prepared ahead on other threads.
public protocol BatchIterator: AnyObject {
    /// The next batch, nil at the end of the epoch; throws when a sample cannot
    /// be read and the recipe asked for strict data.
    func next() throws -> Batch?
}

/// A seed derived from several numbers (SplitMix64 finaliser), so that every
/// (run seed, epoch, sample) gets its own independent generator.
public func derivedSeed(_ parts: UInt64...) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15
    for p in parts {
        h ^= p &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
    }
    return h
}

/// Counts and reports unreadable images once each, across threads.
public final class BrokenImageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    private var failures = 0
    private let report: @Sendable (String) -> Void

    public init(
        report: @escaping @Sendable (String) -> Void = {
            FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8))
        }
    ) {
        self.report = report
    }

    /// How many reads failed (every occurrence, not only the first per file).
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return failures
    }

    func record(_ path: String, _ error: Error) {
        lock.lock()
        failures += 1
        let first = seen.insert(path).inserted
        lock.unlock()
        if first { report("skipping unreadable image: \(error)") }
    }
}

/// Turns image files into normalised batches on background threads.
///
/// The order of an epoch is a permutation drawn from (seed, epoch), and each
/// sample's augmentation from (seed, epoch, position), so the batches do not
/// depend on thread timing, and a run resumed mid-epoch sees exactly the
/// batches it would have seen. An unreadable image is replaced by the next
/// readable one in the epoch's order (counted and reported once), unless
/// `skipBroken` is false, in which case the epoch fails with the file's error.
///
/// ```swift
/// let loader = ImageBatchLoader(samples: folder.samples, batchSize: 64, imageSize: 224, seed: 0,
///                               augment: { image, rng in try crop(image, using: &rng) })
/// let it = loader.batches(epoch: 0, skip: 0)
/// while let batch = try it.next() { ... }
/// ```
public final class ImageBatchLoader: BatchSource, @unchecked Sendable {
    public typealias Augmentation = @Sendable (Image, inout RandomGenerator) throws -> Image

    public let samples: [ImageFolder.Sample]
    public let batchSize: Int
    public let imageSize: Int
    public let workers: Int
    public let seed: UInt64
    public let shuffle: Bool
    /// Drop a last partial batch (training) or keep it (evaluation).
    public let dropLast: Bool
    public let skipBroken: Bool
    public let normalization: Normalization
    public let augment: Augmentation
    public let broken: BrokenImageLog
    /// Batches prepared ahead of the consumer, per worker.
    public let prefetch: Int

    public init(
        samples: [ImageFolder.Sample], batchSize: Int, imageSize: Int, workers: Int = 2, seed: UInt64,
        shuffle: Bool = true, dropLast: Bool = true, skipBroken: Bool = true, normalization: Normalization = .imagenet,
        broken: BrokenImageLog = BrokenImageLog(), prefetch: Int = 2, augment: @escaping Augmentation
    ) {
        self.samples = samples
        self.batchSize = batchSize
        self.imageSize = imageSize
        self.workers = workers
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.skipBroken = skipBroken
        self.normalization = normalization
        self.broken = broken
        self.prefetch = prefetch
        self.augment = augment
    }

    /// Which sample goes where in each epoch (a last partial batch is dropped with ``dropLast``).
    public var schedule: EpochSchedule {
        EpochSchedule(
            sampleCount: samples.count, batchSize: batchSize, seed: seed, shuffle: shuffle, dropLast: dropLast)
    }

    /// Batches per epoch: full ones only with ``dropLast``, else the last may be smaller.
    public var batchesPerEpoch: Int { schedule.batchesPerEpoch }

    /// The sample order of `epoch`.
    public func order(epoch: Int) -> [Int] { schedule.order(epoch: epoch) }

    public func batches(epoch: Int, skip: Int) -> BatchIterator {
        schedule.batches(epoch: epoch, skip: skip, workers: workers, prefetch: prefetch) { [self] order, k in
            try self.makeBatch(epoch: epoch, order: order, batchIndex: k)
        }
    }

    /// Decodes, augments and normalises one batch.
    func makeBatch(epoch: Int, order: [Int], batchIndex: Int) throws -> Batch {
        let schedule = self.schedule
        let positions = schedule.positions(ofBatch: batchIndex)
        let images = Tensor.zeros([positions.count, 3, imageSize, imageSize])
        var labels: [Int] = []
        let plane = 3 * imageSize * imageSize
        for (slot, position) in positions.enumerated() {
            var rng = schedule.generator(epoch: epoch, position: position)
            let (image, label) = try broken.read(
                order: order, position: position, skipBroken: skipBroken, rng: &rng,
                path: { samples[$0].path }
            ) { index, rng in
                let sample = samples[index]
                let image = try Image(contentsOfFile: sample.path, mode: .rgb)
                return (try augment(image, &rng), sample.label)
            }
            precondition(
                image.width == imageSize && image.height == imageSize && image.channels == 3,
                "augmentation must produce \(imageSize)x\(imageSize) RGB, got \(image.width)x\(image.height)x\(image.channels)"
            )
            normalization.write(image, to: images.data + slot * plane)
            labels.append(label)
        }
        return Batch(images: images, labels: labels)
    }
}
