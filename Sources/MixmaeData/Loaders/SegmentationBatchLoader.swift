import Foundation
import MixKit

/// A segmentation batch: images and label maps padded to one size.
public struct SegmentationBatch {
    /// What is known about one image of the batch.
    public struct Item: Equatable, Sendable {
        /// The file stem the image and label map share.
        public var stem: String
        public var geometry: SegmentationGeometry
        /// The label map's file, for errors that name it.
        public var labelPath: String = ""
    }

    /// `[B, 3, height, width]`, normalised; each image at the top left, 0 (the mean) elsewhere.
    public var images: Tensor
    /// `[B, height, width]` class indices, row-major; padding is the ignore index (255).
    public var labels: [UInt8]
    public var height: Int
    public var width: Int
    public var items: [Item]

    /// ``labels`` widened to Int32, for losses that index with 32-bit integers.
    public var int32Labels: [Int32] { labels.map { Int32($0) } }
}

extension Batch {
    /// The segmentation batch a ``SegmentationBatchLoader`` put in `targets`, if any.
    public var segmentation: SegmentationBatch? { targets as? SegmentationBatch }
}

/// Turns a ``SegmentationDataset`` into normalised, padded batches of images
/// and label maps on background threads, deterministically for a (seed,
/// epoch, position), sharing ``EpochSchedule`` with the other loaders.
///
/// Batches are padded to the transform's ``SegmentationTransform/paddedSize``
/// (the crop size in training) or else to the largest image in the batch
/// rounded up to `sizeDivisor`; padded pixels are 0 in the images (the
/// normalised mean) and `ignoreIndex` in the labels.
///
/// ```swift
/// let loader = SegmentationBatchLoader(
///     dataset: train, options: LoaderOptions(batchSize: 16, seed: 0),
///     transform: SegmentationAugmentation(longSide: 256, shortSide: 64, cropWidth: 64, cropHeight: 64))
/// let batches = loader.segmentationBatches(epoch: 0, skip: 0)
/// while let batch = try batches.next() { batch.images; batch.labels }
/// ```
public final class SegmentationBatchLoader: BatchSource, @unchecked Sendable {
    public let dataset: SegmentationDataset
    public let options: LoaderOptions
    public let transform: any SegmentationTransform
    public let sizeDivisor: Int
    public let ignoreIndex: UInt8

    public init(
        dataset: SegmentationDataset, options: LoaderOptions, sizeDivisor: Int = 32, ignoreIndex: UInt8 = 255,
        transform: any SegmentationTransform
    ) {
        precondition(sizeDivisor > 0, "sizeDivisor must be positive")
        self.dataset = dataset
        self.options = options
        self.transform = transform
        self.sizeDivisor = sizeDivisor
        self.ignoreIndex = ignoreIndex
    }

    /// Which pair goes where in each epoch.
    public var schedule: EpochSchedule { options.schedule(sampleCount: dataset.pairs.count) }

    public var batchesPerEpoch: Int { schedule.batchesPerEpoch }

    /// The batches of `epoch` from batch `skip` on.
    public func segmentationBatches(epoch: Int, skip: Int) -> PrefetchingIterator<SegmentationBatch> {
        options.batches(schedule, epoch: epoch, skip: skip) { [self] order, k in
            try self.makeBatch(epoch: epoch, order: order, batchIndex: k)
        }
    }

    /// The same batches for the training loop: ``Batch/segmentation`` holds each one.
    public func batches(epoch: Int, skip: Int) -> BatchIterator {
        MappedBatchIterator(segmentationBatches(epoch: epoch, skip: skip)) { Batch(images: $0.images, targets: $0) }
    }

    /// Reads, transforms, normalises and pads batch `batchIndex` of an epoch in `order`.
    public func makeBatch(epoch: Int, order: [Int], batchIndex: Int) throws -> SegmentationBatch {
        let samples = try options.samples(
            ofBatch: batchIndex, schedule, epoch: epoch, order: order, path: { dataset.pairs[$0].imagePath }
        ) { index, rng in
            let (image, labels) = try dataset.load(at: index)
            return (
                stem: dataset.pairs[index].stem, labelPath: dataset.pairs[index].labelPath,
                sample: try transform.apply(image: image, labels: labels, using: &rng)
            )
        }
        let (width, height) = canvasSize(samples.map(\.sample))
        let images = Tensor.zeros([samples.count, 3, height, width])
        var labels = [UInt8](repeating: ignoreIndex, count: samples.count * height * width)
        for (slot, entry) in samples.enumerated() {
            let sample = entry.sample
            options.normalization.write(
                sample.image, to: images.data + slot * 3 * height * width, canvasWidth: width, canvasHeight: height)
            let rowLength = sample.labels.width
            for y in 0..<sample.labels.height {
                let target = (slot * height + y) * width
                labels.replaceSubrange(
                    target..<(target + rowLength), with: sample.labels.pixels[(y * rowLength)..<((y + 1) * rowLength)])
            }
        }
        return SegmentationBatch(
            images: images, labels: labels, height: height, width: width,
            items: samples.map {
                SegmentationBatch.Item(stem: $0.stem, geometry: $0.sample.geometry, labelPath: $0.labelPath)
            })
    }

    private func canvasSize(_ samples: [SegmentationSample]) -> (width: Int, height: Int) {
        let width = samples.map(\.image.width).max() ?? 0
        let height = samples.map(\.image.height).max() ?? 0
        if let fixed = transform.paddedSize, fixed.width >= width, fixed.height >= height { return fixed }
        return (roundUp(width), roundUp(height))
    }

    private func roundUp(_ value: Int) -> Int { (value + sizeDivisor - 1) / sizeDivisor * sizeDivisor }
}
