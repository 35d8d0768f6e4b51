import Foundation
import MixKit
import MixmaeSupport

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

        public init(
            imageID: Int, boxes: [DetectionBox], labels: [Int], crowdBoxes: [DetectionBox], geometry: DetectionGeometry
        ) {
            self.imageID = imageID
            self.boxes = boxes
            self.labels = labels
            self.crowdBoxes = crowdBoxes
            self.geometry = geometry
        }
    }

    /// `[B, 3, H, W]`, normalised; each image at the top left, 0 (the mean) elsewhere.
    /// H and W are the largest padded size in the batch (multiples of the size divisor).
    public var images: Tensor
    public var targets: [Target]

    /// `images` `[B, 3, H, W]` with each image at its top left; `targets` one per image.
    public init(images: Tensor, targets: [Target]) {
        self.images = images
        self.targets = targets
    }
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
/// by the next image in the epoch's order (reported once) unless
/// ``LoaderOptions/skipBroken`` is false. For evaluation, pass
/// ``LoaderOptions/evaluation(batchSize:workers:skipBroken:normalization:)``
/// so every image is seen once, in the file's order.
///
/// ```swift
/// let loader = DetectionBatchLoader(
///     dataset: train, options: LoaderOptions(batchSize: 8, seed: 0),
///     transform: DetectionTransform(shortSides: [800], maxSize: 1333, flipProbability: 0.5))
/// let batches = loader.detectionBatches(epoch: 0, skip: 0)
/// while let batch = try batches.next() { batch.images; batch.targets[0].boxes }
/// ```
public final class DetectionBatchLoader: BatchSource, @unchecked Sendable {
    public let dataset: DetectionDataset
    public let options: LoaderOptions
    public let transform: DetectionTransform

    public init(dataset: DetectionDataset, options: LoaderOptions, transform: DetectionTransform) {
        self.dataset = dataset
        self.options = options
        self.transform = transform
    }

    /// Which image goes where in each epoch.
    public var schedule: EpochSchedule { options.schedule(sampleCount: dataset.items.count) }

    public var batchesPerEpoch: Int { schedule.batchesPerEpoch }

    /// The batches of `epoch` from batch `skip` on.
    public func detectionBatches(epoch: Int, skip: Int) -> PrefetchingIterator<DetectionBatch> {
        options.batches(schedule, epoch: epoch, skip: skip) { [self] order, k in
            try self.makeBatch(epoch: epoch, order: order, batchIndex: k)
        }
    }

    /// The same batches for the training loop: ``Batch/detection`` holds each one.
    public func batches(epoch: Int, skip: Int) -> BatchIterator {
        MappedBatchIterator(detectionBatches(epoch: epoch, skip: skip)) { Batch(images: $0.images, targets: $0) }
    }

    /// Reads, transforms, normalises and pads batch `batchIndex` of an epoch in `order`.
    public func makeBatch(epoch: Int, order: [Int], batchIndex: Int) throws -> DetectionBatch {
        let samples = try options.samples(
            ofBatch: batchIndex, schedule, epoch: epoch, order: order, path: { dataset.items[$0].path }, read: load)
        let height = samples.map(\.geometry.paddedHeight).max() ?? 0
        let width = samples.map(\.geometry.paddedWidth).max() ?? 0
        let images = Tensor.zeros([samples.count, 3, height, width])
        for (slot, sample) in samples.enumerated() {
            options.normalization.write(
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
            throw InputError(
                file: item.path,
                problem: "is \(image.width)x\(image.height) but \(dataset.annotationFile) says \(width)x\(height) "
                    + "(image id \(item.imageID)); its boxes would be misplaced, so fix the JSON or the image")
        }
        return try transform(image, item: item, using: &rng)
    }
}
