import Foundation
import MixKit

/// How a segmentation input was made from its files: resize, crop and flip.
///
/// The input's valid region is `cropWidth` x `cropHeight` at its top left; it
/// shows the rectangle (`cropX`, `cropY`, `cropWidth`, `cropHeight`) of the
/// image resized to `resizedWidth` x `resizedHeight`, mirrored if `flipped`.
/// For evaluation the crop is the whole resized image, so a prediction over
/// the valid region resized to the original size lines up with the file.
public struct SegmentationGeometry: Equatable, Sendable {
    public var originalWidth: Int
    public var originalHeight: Int
    public var resizedWidth: Int
    public var resizedHeight: Int
    public var cropX: Int
    public var cropY: Int
    public var cropWidth: Int
    public var cropHeight: Int
    public var flipped: Bool
}

/// An image and its label map after a transform, both `cropWidth` x `cropHeight`.
public struct SegmentationSample: Sendable {
    public var image: Image
    /// One channel of class indices, 255 = ignore.
    public var labels: Image
    public var geometry: SegmentationGeometry
}

/// What a ``SegmentationBatchLoader`` applies to each image and label map.
public protocol SegmentationTransform: Sendable {
    /// Moves the image and its labels together; random choices come from `rng`.
    func apply(image: Image, labels: Image, using rng: inout RandomGenerator) throws -> SegmentationSample
    /// The size every batch is padded to, or nil for the largest image of the
    /// batch rounded up to the loader's size divisor.
    var paddedSize: (width: Int, height: Int)? { get }
}

/// mmcv's `imrescale` size: the largest scale at which the longer edge fits
/// `longSide` and the shorter `shortSide`, each edge rounded half up.
func keepRatioSize(width: Int, height: Int, longSide: Double, shortSide: Double) -> (width: Int, height: Int) {
    let longLimit = max(longSide, shortSide)
    let shortLimit = min(longSide, shortSide)
    let scale = min(longLimit / Double(max(width, height)), shortLimit / Double(min(width, height)))
    return (max(1, Int(Double(width) * scale + 0.5)), max(1, Int(Double(height) * scale + 0.5)))
}

/// Training augmentation as mmsegmentation's ADE20K pipeline: `RandomResize`
/// (scale `longSide` x `shortSide` times a ratio drawn from `ratioRange`,
/// aspect kept), `RandomCrop` (with `cat_max_ratio`), `RandomFlip`; batches
/// are then padded to the crop size with 255 for labels.
///
/// The crop is `cropWidth` x `cropHeight`, or the whole image along an edge
/// that is shorter. With `catMaxRatio` < 1, up to 10 crops are drawn until one
/// whose most frequent non-ignored label covers less than that fraction and
/// that holds at least two labels (otherwise the 11th draw is taken, as mmseg).
///
/// ```swift
/// let augment = SegmentationAugmentation(
///     longSide: 2048, shortSide: 512, ratioRange: 0.5...2.0, cropWidth: 512, cropHeight: 512,
///     catMaxRatio: 0.75)
/// let sample = try augment.apply(image: image, labels: labels, using: &rng)
/// ```
public struct SegmentationAugmentation: SegmentationTransform {
    public var longSide: Int
    public var shortSide: Int
    public var ratioRange: ClosedRange<Double>
    public var cropWidth: Int
    public var cropHeight: Int
    /// 1 turns the category balance check off.
    public var catMaxRatio: Double
    public var flipProbability: Double
    public var ignoreIndex: UInt8
    public var filter: ResizeFilter
    /// mmseg's `PhotoMetricDistortion` after the flip, or nil for none.
    public var photometric: PhotometricDistortion?

    public init(
        longSide: Int, shortSide: Int, ratioRange: ClosedRange<Double> = 0.5...2.0, cropWidth: Int,
        cropHeight: Int, catMaxRatio: Double = 1, flipProbability: Double = 0.5, ignoreIndex: UInt8 = 255,
        filter: ResizeFilter = .bilinear, photometric: PhotometricDistortion? = nil
    ) {
        precondition(longSide > 0 && shortSide > 0 && cropWidth > 0 && cropHeight > 0, "sizes must be positive")
        self.photometric = photometric
        precondition(ratioRange.lowerBound > 0, "the ratio range must be positive")
        self.longSide = longSide
        self.shortSide = shortSide
        self.ratioRange = ratioRange
        self.cropWidth = cropWidth
        self.cropHeight = cropHeight
        self.catMaxRatio = catMaxRatio
        self.flipProbability = flipProbability
        self.ignoreIndex = ignoreIndex
        self.filter = filter
    }

    public var paddedSize: (width: Int, height: Int)? { (cropWidth, cropHeight) }

    /// Draws, in order: the scale ratio, the crop offsets (y then x, repeated
    /// for the category check), the flip, and the photometric distortion.
    public func apply(image: Image, labels: Image, using rng: inout RandomGenerator) throws -> SegmentationSample {
        try checkPair(image, labels)
        let ratio = ratioRange.lowerBound + rng.nextDouble() * (ratioRange.upperBound - ratioRange.lowerBound)
        let size = keepRatioSize(
            width: image.width, height: image.height, longSide: Double(Int(Double(longSide) * ratio)),
            shortSide: Double(Int(Double(shortSide) * ratio)))
        let resizedImage = try image.resized(width: size.width, height: size.height, filter: filter)
        let resizedLabels = try labels.resized(width: size.width, height: size.height, filter: .nearest)
        let width = min(cropWidth, size.width)
        let height = min(cropHeight, size.height)
        func drawCrop() -> (x: Int, y: Int) {
            let y = rng.nextInt(below: size.height - height + 1)
            let x = rng.nextInt(below: size.width - width + 1)
            return (x, y)
        }
        var crop = drawCrop()
        if catMaxRatio < 1 {
            for _ in 0..<10 {
                if isBalanced(resizedLabels, x: crop.x, y: crop.y, width: width, height: height) { break }
                crop = drawCrop()
            }
        }
        var outImage = try resizedImage.cropped(x: crop.x, y: crop.y, width: width, height: height)
        var outLabels = try resizedLabels.cropped(x: crop.x, y: crop.y, width: width, height: height)
        let flipped = flipProbability > 0 && rng.nextDouble() < flipProbability
        if flipped {
            outImage = outImage.flippedHorizontally()
            outLabels = outLabels.flippedHorizontally()
        }
        if let photometric { outImage = try photometric(outImage, using: &rng) }
        let geometry = SegmentationGeometry(
            originalWidth: image.width, originalHeight: image.height, resizedWidth: size.width,
            resizedHeight: size.height, cropX: crop.x, cropY: crop.y, cropWidth: width, cropHeight: height,
            flipped: flipped)
        return SegmentationSample(image: outImage, labels: outLabels, geometry: geometry)
    }

    /// mmseg's test: at least two non-ignored labels, the most frequent below `catMaxRatio`.
    private func isBalanced(_ labels: Image, x: Int, y: Int, width: Int, height: Int) -> Bool {
        var counts = [Int](repeating: 0, count: 256)
        labels.pixels.withUnsafeBufferPointer { values in
            for row in y..<(y + height) {
                let start = row * labels.width
                for column in x..<(x + width) { counts[Int(values[start + column])] += 1 }
            }
        }
        counts[Int(ignoreIndex)] = 0
        let present = counts.filter { $0 > 0 }
        guard present.count > 1 else { return false }
        return Double(present.max()!) / Double(present.reduce(0, +)) < catMaxRatio
    }
}

/// Evaluation preprocessing: the whole image resized keeping its aspect ratio
/// to fit `longSide` x `shortSide` (mmseg's test `Resize(keep_ratio=True)`);
/// labels are resized with nearest neighbours. Batches are padded to the
/// largest image rounded up to the loader's size divisor.
///
/// ```swift
/// let resize = SegmentationResize(longSide: 2048, shortSide: 512)
/// ```
public struct SegmentationResize: SegmentationTransform {
    public var longSide: Int
    public var shortSide: Int
    public var filter: ResizeFilter

    public init(longSide: Int, shortSide: Int, filter: ResizeFilter = .bilinear) {
        precondition(longSide > 0 && shortSide > 0, "sizes must be positive")
        self.longSide = longSide
        self.shortSide = shortSide
        self.filter = filter
    }

    public var paddedSize: (width: Int, height: Int)? { nil }

    public func apply(image: Image, labels: Image, using rng: inout RandomGenerator) throws -> SegmentationSample {
        try checkPair(image, labels)
        let size = keepRatioSize(
            width: image.width, height: image.height, longSide: Double(longSide), shortSide: Double(shortSide))
        let geometry = SegmentationGeometry(
            originalWidth: image.width, originalHeight: image.height, resizedWidth: size.width,
            resizedHeight: size.height, cropX: 0, cropY: 0, cropWidth: size.width, cropHeight: size.height,
            flipped: false)
        return SegmentationSample(
            image: try image.resized(width: size.width, height: size.height, filter: filter),
            labels: try labels.resized(width: size.width, height: size.height, filter: .nearest), geometry: geometry)
    }
}

private func checkPair(_ image: Image, _ labels: Image) throws {
    guard image.channels == 3, labels.channels == 1, image.width == labels.width, image.height == labels.height
    else {
        throw ImageError(
            .invalidArgument, source: "SegmentationTransform",
            message: "needs an RGB image and a 1-channel label map of the same size, got "
                + "\(image.width)x\(image.height)x\(image.channels) and \(labels.width)x\(labels.height)x\(labels.channels)"
        )
    }
}
