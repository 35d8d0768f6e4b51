import Foundation
import MixKit

/// A detection batch: images padded to one size, and each image's targets
/// in the coordinates of its (unpadded) input.
public struct DetectionBatch {
    /// What a detector needs to know about one image of the batch.
    public struct Target: Equatable, Sendable {
        public var imageID: Int
        public var boxes: [DetectionBox]
        /// Class index (0..<classCount) of each box.
        public var labels: [Int]
        /// Crowd regions, to be ignored by the loss.
        public var crowdBoxes: [DetectionBox]
        /// Size, scale, flip and valid region, to map predictions back to the file.
        public var geometry: DetectionGeometry
    }

    /// `[B, 3, H, W]`, normalised; each image at the top left, 0 (the mean) elsewhere.
    /// H and W are the largest padded size in the batch (multiples of the size divisor).
    public var images: Tensor
    public var targets: [Target]
}

extension Batch {
    /// The detection batch a ``DetectionBatchLoader`` put in `targets`, if any.
    public var detection: DetectionBatch? { targets as? DetectionBatch }
}

/// Turns a ``DetectionDataset`` into normalised, padded batches on background
/// threads, deterministically for a (seed, epoch, position), as
/// ``ImageBatchLoader`` does for classification (it shares its ``EpochSchedule``).
///
/// An unreadable image, or one whose size differs from the JSON's, is replaced
/// by the next image in the epoch's order (reported once) unless `skipBroken`
/// is false. For evaluation, pass `shuffle: false, dropLast: false` so every
/// image is seen once, in the file's order.
///
/// ```swift
/// let loader = DetectionBatchLoader(
///     dataset: train, batchSize: 8, seed: 0,
///     transform: DetectionTransform(shortSides: [800], maxSize: 1333, flipProbability: 0.5))
/// let batches = loader.detectionBatches(epoch: 0, skip: 0)
/// while let batch = try batches.next() { batch.images; batch.targets[0].boxes }
/// ```
public final class DetectionBatchLoader: BatchSource, @unchecked Sendable {
    public let dataset: DetectionDataset
    public let batchSize: Int
    public let transform: DetectionTransform
    public let workers: Int
    public let seed: UInt64
    public let shuffle: Bool
    public let dropLast: Bool
    public let skipBroken: Bool
    public let normalization: Normalization
    public let broken: BrokenImageLog
    /// Batches prepared ahead of the consumer, per worker.
    public let prefetch: Int

    public init(
        dataset: DetectionDataset, batchSize: Int, workers: Int = 2, seed: UInt64, shuffle: Bool = true,
        dropLast: Bool = true, skipBroken: Bool = true, normalization: Normalization = .imagenet,
        broken: BrokenImageLog = BrokenImageLog(), prefetch: Int = 2, transform: DetectionTransform
    ) {
        self.dataset = dataset
        self.batchSize = batchSize
        self.transform = transform
        self.workers = workers
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.skipBroken = skipBroken
        self.normalization = normalization
        self.broken = broken
        self.prefetch = prefetch
    }

    /// Which image goes where in each epoch.
    public var schedule: EpochSchedule {
        EpochSchedule(
            sampleCount: dataset.items.count, batchSize: batchSize, seed: seed, shuffle: shuffle, dropLast: dropLast)
    }

    public var batchesPerEpoch: Int { schedule.batchesPerEpoch }

    /// The batches of `epoch` from batch `skip` on.
    public func detectionBatches(epoch: Int, skip: Int) -> PrefetchingIterator<DetectionBatch> {
        schedule.batches(epoch: epoch, skip: skip, workers: workers, prefetch: prefetch) { [self] order, k in
            try self.makeBatch(epoch: epoch, order: order, batchIndex: k)
        }
    }

    /// The same batches for the training loop: ``Batch/detection`` holds each one.
    public func batches(epoch: Int, skip: Int) -> BatchIterator {
        MappedBatchIterator(detectionBatches(epoch: epoch, skip: skip)) { Batch(images: $0.images, targets: $0) }
    }

    /// Reads, transforms, normalises and pads batch `batchIndex` of an epoch in `order`.
    public func makeBatch(epoch: Int, order: [Int], batchIndex: Int) throws -> DetectionBatch {
        let schedule = self.schedule
        var samples = [DetectionSample]()
        for position in schedule.positions(ofBatch: batchIndex) {
            var rng = schedule.generator(epoch: epoch, position: position)
            samples.append(
                try broken.read(
                    order: order, position: position, skipBroken: skipBroken, rng: &rng,
                    path: { dataset.items[$0].path }, read: load))
        }
        let height = samples.map(\.geometry.paddedHeight).max() ?? 0
        let width = samples.map(\.geometry.paddedWidth).max() ?? 0
        let images = Tensor.zeros([samples.count, 3, height, width])
        for (slot, sample) in samples.enumerated() {
            normalization.write(
                sample.image, to: images.data + slot * 3 * height * width, canvasWidth: width, canvasHeight: height)
        }
        let targets = samples.map {
            DetectionBatch.Target(
                imageID: $0.imageID, boxes: $0.boxes, labels: $0.labels, crowdBoxes: $0.crowdBoxes,
                geometry: $0.geometry)
        }
        return DetectionBatch(images: images, targets: targets)
    }

    private func load(_ index: Int, _ rng: inout RandomGenerator) throws -> DetectionSample {
        let item = dataset.items[index]
        let image = try Image(contentsOfFile: item.path, mode: .rgb)
        if let width = item.width, let height = item.height, width != image.width || height != image.height {
            throw DatasetError(
                path: item.path,
                problem: "is \(image.width)x\(image.height) but \(dataset.annotationFile) says \(width)x\(height) "
                    + "(image id \(item.imageID)); its boxes would be misplaced, so fix the JSON or the image")
        }
        return try transform(image, item: item, using: &rng)
    }
}
