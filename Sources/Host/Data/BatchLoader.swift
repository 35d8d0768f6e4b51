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

    public init(report: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }) {
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

    /// Batches per epoch: full ones only with ``dropLast``, else the last may be smaller.
    public var batchesPerEpoch: Int {
        dropLast ? samples.count / batchSize : (samples.count + batchSize - 1) / batchSize
    }

    /// The sample order of `epoch`.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<samples.count) }
        var rng = RandomGenerator(seed: derivedSeed(seed, UInt64(epoch), 0x5348_5546))
        return rng.permutation(samples.count)
    }

    public func batches(epoch: Int, skip: Int) -> BatchIterator {
        let order = order(epoch: epoch)
        let count = max(0, batchesPerEpoch - skip)
        return PrefetchingIterator(count: count, workers: workers, prefetch: prefetch) { [self] k in
            try self.makeBatch(epoch: epoch, order: order, batchIndex: k + skip)
        }
    }

    /// Decodes, augments and normalises one batch.
    func makeBatch(epoch: Int, order: [Int], batchIndex: Int) throws -> Batch {
        let size = min(batchSize, samples.count - batchIndex * batchSize)
        let images = Tensor.zeros([size, 3, imageSize, imageSize])
        var labels: [Int] = []
        let plane = 3 * imageSize * imageSize
        for slot in 0..<size {
            let position = batchIndex * batchSize + slot
            var rng = RandomGenerator(seed: derivedSeed(seed, UInt64(epoch), UInt64(position)))
            let (image, label) = try loadSample(order: order, position: position, rng: &rng)
            precondition(
                image.width == imageSize && image.height == imageSize && image.channels == 3,
                "augmentation must produce \(imageSize)x\(imageSize) RGB, got \(image.width)x\(image.height)x\(image.channels)")
            normalization.write(image, to: images.data + slot * plane)
            labels.append(label)
        }
        return Batch(images: images, labels: labels)
    }

    private func loadSample(order: [Int], position: Int, rng: inout RandomGenerator) throws -> (Image, Int) {
        var attempt = 0
        while true {
            let sample = samples[order[(position + attempt) % order.count]]
            do {
                let image = try Image(contentsOfFile: sample.path, mode: .rgb)
                return (try augment(image, &rng), sample.label)
            } catch {
                guard skipBroken else { throw error }
                broken.record(sample.path, error)
                attempt += 1
                if attempt >= order.count {
                    throw ImageFolder.Error(root: sample.path, problem: "no readable image in the dataset")
                }
            }
        }
    }
}

/// Produces items 0..<count in order, on `workers` threads at most `prefetch`
/// items each ahead of the consumer; with no workers, on the consumer's thread.
final class PrefetchingIterator: BatchIterator {
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var ready: [Int: Result<Batch, Error>] = [:]
        var nextToProduce = 0
        var nextToConsume = 0
        var cancelled = false
    }

    private let shared = Shared()
    private let count: Int
    private let workers: Int
    private let produce: (Int) throws -> Batch

    init(count: Int, workers: Int, prefetch: Int, produce: @escaping (Int) throws -> Batch) {
        self.count = count
        self.workers = workers
        self.produce = produce
        guard workers > 0 else { return }
        let shared = self.shared
        let ahead = max(1, prefetch) * workers
        for _ in 0..<workers {
            let thread = Thread {
                while true {
                    shared.condition.lock()
                    while !shared.cancelled && shared.nextToProduce < count
                        && shared.nextToProduce - shared.nextToConsume >= ahead
                    {
                        shared.condition.wait()
                    }
                    if shared.cancelled || shared.nextToProduce >= count {
                        shared.condition.unlock()
                        return
                    }
                    let k = shared.nextToProduce
                    shared.nextToProduce += 1
                    shared.condition.unlock()
                    let result = Result { try produce(k) }
                    shared.condition.lock()
                    shared.ready[k] = result
                    shared.condition.broadcast()
                    shared.condition.unlock()
                }
            }
            thread.name = "mixmae-data"
            thread.start()
        }
    }

    deinit {
        shared.condition.lock()
        shared.cancelled = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    func next() throws -> Batch? {
        if workers == 0 {
            guard shared.nextToConsume < count else { return nil }
            shared.nextToConsume += 1
            return try produce(shared.nextToConsume - 1)
        }
        shared.condition.lock()
        defer { shared.condition.unlock() }
        guard shared.nextToConsume < count else { return nil }
        while shared.ready[shared.nextToConsume] == nil { shared.condition.wait() }
        let result = shared.ready.removeValue(forKey: shared.nextToConsume)!
        shared.nextToConsume += 1
        shared.condition.broadcast()
        return try result.get()
    }
}
