import Foundation
import MixKit

/// How a detection input was made from its file: the resize, the flip and the
/// padding, enough to map boxes between the two.
///
/// ```swift
/// let geometry = sample.geometry
/// let inFile = geometry.toOriginal(predictedBox)   // network input -> file pixels
/// ```
public struct DetectionGeometry: Equatable, Sendable {
    /// The file's size.
    public var originalWidth: Int
    public var originalHeight: Int
    /// The resized image's size: the valid region, at the top left of the padded input.
    public var validWidth: Int
    public var validHeight: Int
    /// The valid size rounded up to the size divisor (the batch may pad further).
    public var paddedWidth: Int
    public var paddedHeight: Int
    /// Horizontal and vertical scale: `validWidth / originalWidth`, `validHeight / originalHeight`.
    public var scaleX: Double
    public var scaleY: Double
    /// Whether the image was mirrored after resizing.
    public var flipped: Bool

    public init(
        originalWidth: Int, originalHeight: Int, validWidth: Int, validHeight: Int, paddedWidth: Int,
        paddedHeight: Int, flipped: Bool
    ) {
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
        self.validWidth = validWidth
        self.validHeight = validHeight
        self.paddedWidth = paddedWidth
        self.paddedHeight = paddedHeight
        self.scaleX = Double(validWidth) / Double(originalWidth)
        self.scaleY = Double(validHeight) / Double(originalHeight)
        self.flipped = flipped
    }

    /// A box in file pixels moved onto the input: scaled, clipped to the valid
    /// region, and mirrored if the image was.
    public func fromOriginal(_ box: DetectionBox) -> DetectionBox {
        let w = Double(validWidth)
        let h = Double(validHeight)
        let scaled = DetectionBox(
            x1: min(max(box.x1 * scaleX, 0), w), y1: min(max(box.y1 * scaleY, 0), h),
            x2: min(max(box.x2 * scaleX, 0), w), y2: min(max(box.y2 * scaleY, 0), h))
        guard flipped else { return scaled }
        return DetectionBox(x1: w - scaled.x2, y1: scaled.y1, x2: w - scaled.x1, y2: scaled.y2)
    }

    /// A box on the input (a prediction) in the file's pixel coordinates.
    public func toOriginal(_ box: DetectionBox) -> DetectionBox {
        let w = Double(validWidth)
        let unflipped = flipped ? DetectionBox(x1: w - box.x2, y1: box.y1, x2: w - box.x1, y2: box.y2) : box
        return DetectionBox(
            x1: unflipped.x1 / scaleX, y1: unflipped.y1 / scaleY, x2: unflipped.x2 / scaleX,
            y2: unflipped.y2 / scaleY)
    }
}

/// One image ready for a detector, with its annotations in input coordinates.
public struct DetectionSample: Sendable {
    public var imageID: Int
    /// The resized (and maybe mirrored) RGB image, `geometry.validWidth` x `validHeight`, unpadded.
    public var image: Image
    public var boxes: [DetectionBox]
    public var labels: [Int]
    public var crowdBoxes: [DetectionBox]
    public var geometry: DetectionGeometry
    /// The instance mask of each box at the padded size, when the transform makes masks.
    public var masks: InstanceMasks?
}

/// Resize keeping the aspect ratio, optional horizontal flip, and padding to
/// a multiple of `sizeDivisor`, moving the boxes with the image, as
/// mmdetection's `Resize(keep_ratio=True)`, `RandomFlip` and `Pad(size_divisor=32)`.
///
/// The scale is `min(shortSide / shorter edge, maxSize / longer edge)` (as
/// mmcv, the smaller of the two sizes limits the shorter edge) and the
/// new size `Int(edge * scale + 0.5)`; boxes are scaled per axis by new/old
/// size and clipped to the image. With several `shortSides` each image draws
/// one (multi-scale training).
///
/// ```swift
/// let train = DetectionTransform(shortSides: [640, 800], maxSize: 1333, flipProbability: 0.5)
/// let test = DetectionTransform(shortSides: [800], maxSize: 1333)
/// let sample = try train(image, item: dataset.items[0], using: &rng)
/// ```
public struct DetectionTransform: Sendable {
    public var shortSides: [Int]
    public var maxSize: Int
    public var flipProbability: Double
    public var sizeDivisor: Int
    public var filter: ResizeFilter
    /// Whether samples carry instance masks (``InstanceMaskRaster``), for Mask R-CNN.
    public var makesMasks: Bool

    public init(
        shortSides: [Int], maxSize: Int, flipProbability: Double = 0, sizeDivisor: Int = 32,
        filter: ResizeFilter = .bilinear, makesMasks: Bool = false
    ) {
        precondition(!shortSides.isEmpty && shortSides.allSatisfy { $0 > 0 }, "shortSides must be positive")
        precondition(maxSize > 0 && sizeDivisor > 0, "maxSize and sizeDivisor must be positive")
        self.shortSides = shortSides
        self.maxSize = maxSize
        self.flipProbability = flipProbability
        self.sizeDivisor = sizeDivisor
        self.filter = filter
        self.makesMasks = makesMasks
    }

    /// The resized size of a `width` x `height` image for a shorter side of `shortSide`.
    public func resizedSize(width: Int, height: Int, shortSide: Int) -> (width: Int, height: Int) {
        let longLimit = Double(max(shortSide, maxSize))
        let shortLimit = Double(min(shortSide, maxSize))
        let scale = min(shortLimit / Double(min(width, height)), longLimit / Double(max(width, height)))
        return (max(1, Int(Double(width) * scale + 0.5)), max(1, Int(Double(height) * scale + 0.5)))
    }

    /// The geometry of a `width` x `height` image resized for `shortSide` and maybe flipped.
    public func geometry(width: Int, height: Int, shortSide: Int, flipped: Bool) -> DetectionGeometry {
        let size = resizedSize(width: width, height: height, shortSide: shortSide)
        return DetectionGeometry(
            originalWidth: width, originalHeight: height, validWidth: size.width, validHeight: size.height,
            paddedWidth: roundUp(size.width), paddedHeight: roundUp(size.height), flipped: flipped)
    }

    /// Transforms an image and its annotations; draws the short side (if there
    /// are several) and then the flip from `rng`.
    public func callAsFunction(_ image: Image, item: DetectionDataset.Item, using rng: inout RandomGenerator) throws
        -> DetectionSample
    {
        let shortSide = shortSides.count > 1 ? shortSides[rng.nextInt(below: shortSides.count)] : shortSides[0]
        let flipped = flipProbability > 0 && rng.nextDouble() < flipProbability
        let geometry = geometry(width: image.width, height: image.height, shortSide: shortSide, flipped: flipped)
        var resized = try image.resized(width: geometry.validWidth, height: geometry.validHeight, filter: filter)
        if flipped { resized = resized.flippedHorizontally() }
        var boxes = [DetectionBox]()
        var labels = [Int]()
        var kept = [Int]()
        for (index, (box, label)) in zip(item.boxes, item.labels).enumerated() {
            let moved = geometry.fromOriginal(box)
            if moved.width > 0 && moved.height > 0 {
                boxes.append(moved)
                labels.append(label)
                kept.append(index)
            }
        }
        let crowd = item.crowdBoxes.map(geometry.fromOriginal).filter { $0.width > 0 && $0.height > 0 }
        let masks =
            makesMasks
            ? try InstanceMaskRaster.masks(
                kept.map { item.segmentations.indices.contains($0) ? item.segmentations[$0] : nil }, item: item,
                geometry: geometry) : nil
        return DetectionSample(
            imageID: item.imageID, image: resized, boxes: boxes, labels: labels, crowdBoxes: crowd, geometry: geometry,
            masks: masks)
    }

    private func roundUp(_ value: Int) -> Int { (value + sizeDivisor - 1) / sizeDivisor * sizeDivisor }
}
