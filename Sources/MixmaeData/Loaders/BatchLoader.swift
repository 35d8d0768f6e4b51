import Foundation
import MixKit
import MixmaeSupport

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

/// Counts and reports unreadable images once each, across threads, and stops the data
/// when more than ``maxUnreadable`` of a dataset cannot be read (`data.max_unreadable`).
public final class BrokenImageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    private var files: [(path: String, reason: String)] = []
    private var failures = 0
    private let report: @Sendable (String) -> Void
    /// The largest fraction of a dataset's files that may be unreadable (skipped); more is an
    /// ``UnreadableDataError``. 1 allows any number.
    public let maxUnreadable: Double

    public init(
        maxUnreadable: Double = 1,
        report: @escaping @Sendable (String) -> Void = {
            FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8))
        }
    ) {
        self.maxUnreadable = maxUnreadable
        self.report = report
    }

    /// Every distinct unreadable file so far, with the first reason, in the order found.
    public var unreadable: [(path: String, reason: String)] {
        lock.lock()
        defer { lock.unlock() }
        return files
    }

    /// Throws when the distinct unreadable files are more than ``maxUnreadable`` of `total`.
    func check(total: Int) throws {
        let found = unreadable
        guard Double(found.count) > maxUnreadable * Double(total) else { return }
        throw UnreadableDataError(files: found, total: total, maxUnreadable: maxUnreadable)
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
        if first { files.append((path, "\(error)")) }
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
/// ``LoaderOptions/skipBroken`` is false, in which case the epoch fails with
/// the file's error.
///
/// ```swift
/// let loader = ImageBatchLoader(
///     samples: folder.samples, options: LoaderOptions(batchSize: 64, seed: 0), imageSize: 224
/// ) { image, rng in try crop(image, using: &rng) }
/// let it = loader.batches(epoch: 0, skip: 0)
/// while let batch = try it.next() { ... }
/// ```
public final class ImageBatchLoader: BatchSource, @unchecked Sendable {
    public typealias Augmentation = @Sendable (Image, inout RandomGenerator) throws -> Image

    public let samples: [ImageFolder.Sample]
    public let options: LoaderOptions
    public let imageSize: Int
    public let augment: Augmentation
    /// RandomErasing on each normalised image, after `augment` (timm's order); nil for none.
    /// Its draws come from a seed the sample's generator gives, so batches stay a pure
    /// function of seed, epoch and position.
    public var erasing: RandomErasing?

    public init(
        samples: [ImageFolder.Sample], options: LoaderOptions, imageSize: Int, augment: @escaping Augmentation
    ) {
        self.samples = samples
        self.options = options
        self.imageSize = imageSize
        self.augment = augment
    }

    /// Which sample goes where in each epoch.
    public var schedule: EpochSchedule { options.schedule(sampleCount: samples.count) }

    /// Batches per epoch: full ones only with ``LoaderOptions/dropLast``, else the last may be smaller.
    public var batchesPerEpoch: Int { schedule.batchesPerEpoch }

    /// The sample order of `epoch`.
    public func order(epoch: Int) -> [Int] { schedule.order(epoch: epoch) }

    public func batches(epoch: Int, skip: Int) -> BatchIterator {
        options.batches(schedule, epoch: epoch, skip: skip) { [self] order, k in
            try self.makeBatch(epoch: epoch, order: order, batchIndex: k)
        }
    }

    /// Process `rank`'s share of `epoch` for an evaluation spread over `processes`:
    /// batches `rank`, `rank + processes`, ..., each as in one process.
    ///
    /// ```swift
    /// let mine = loader.batches(epoch: 0, rank: 1, of: 2)   // batches 1, 3, 5, ...
    /// ```
    public func batches(epoch: Int, rank: Int, of processes: Int) -> BatchIterator {
        schedule.batches(
            epoch: epoch, every: processes, from: rank, workers: options.workers, prefetch: options.prefetch
        ) { [self] order, k in
            try self.makeBatch(epoch: epoch, order: order, batchIndex: k)
        }
    }

    /// Decodes, augments and normalises one batch.
    func makeBatch(epoch: Int, order: [Int], batchIndex: Int) throws -> Batch {
        let loaded = try options.samples(
            ofBatch: batchIndex, schedule, epoch: epoch, order: order, path: { samples[$0].path }
        ) { [erasing] index, rng in
            let sample = samples[index]
            let image = try Image(contentsOfFile: sample.path, mode: .rgb)
            let augmented = try augment(image, &rng)
            return (image: augmented, label: sample.label, erasingSeed: erasing == nil ? 0 : rng.next())
        }
        let images = Tensor.zeros([loaded.count, 3, imageSize, imageSize])
        let plane = 3 * imageSize * imageSize
        for (slot, sample) in loaded.enumerated() {
            let image = sample.image
            precondition(
                image.width == imageSize && image.height == imageSize && image.channels == 3,
                "augmentation must produce \(imageSize)x\(imageSize) RGB, got \(image.width)x\(image.height)x\(image.channels)"
            )
            options.normalization.write(image, to: images.data + slot * plane)
            if let erasing, erasing.probability > 0 {
                var generator = RandomGenerator(seed: sample.erasingSeed)
                erasing(images.data + slot * plane, channels: 3, height: imageSize, width: imageSize, using: &generator)
            }
        }
        let labels = loaded.map(\.label)
        return Batch(images: images, labels: labels)
    }
}

/// More of a dataset than `data.max_unreadable` allows cannot be read: the run stops instead
/// of training on what is left.
public struct UnreadableDataError: UserFacingError {
    /// The unreadable files found so far, with the reasons.
    public let files: [(path: String, reason: String)]
    /// The dataset's size.
    public let total: Int
    public let maxUnreadable: Double

    public var what: String {
        let share = String(format: "%.1f%%", 100 * Double(files.count) / Double(max(total, 1)))
        let limit = String(format: "%g%%", 100 * maxUnreadable)
        return "at least \(files.count) of the dataset's \(total) images (\(share)) cannot be read, more than "
            + "data.max_unreadable allows (\(limit))"
    }

    public var hint: String? {
        "repair or remove the files below, or raise data.max_unreadable (a fraction, 0.01 = 1%)"
    }

    public var details: [String] { files.map { "  \($0.reason)" } }
}
