import Foundation
import MixKit

/// The classification finetune's training transform in timm 0.4.12's order
/// (`transforms_imagenet_train`): RandomResizedCrop (bicubic) -> horizontal
/// flip -> RandAugment on the 8-bit image -> ToTensor/Normalize ->
/// RandomErasing on the floats. All randomness comes from the generator given.
///
/// ```swift
/// let augmentation = TrainingAugmentation(
///     crop: RandomResizedCrop(size: 224),
///     randAugment: try RandAugment(config: "rand-m9-mstd0.5-inc1"),
///     erasing: RandomErasing(probability: 0.25, mode: .pixel))
/// var rng = RandomGenerator(seed: 3)
/// var values = [Float](repeating: 0, count: augmentation.valueCount)
/// try values.withUnsafeMutableBufferPointer { try augmentation(image, into: $0.baseAddress!, using: &rng) }
/// ```
public struct TrainingAugmentation: Sendable {
    public var crop: RandomResizedCrop
    /// Chance of a horizontal flip.
    public var flipProbability: Double
    /// Nil: no RandAugment.
    public var randAugment: RandAugment?
    public var normalization: Normalization
    /// Nil (or probability 0): no erasing.
    public var erasing: RandomErasing?

    public init(
        crop: RandomResizedCrop, flipProbability: Double = 0.5, randAugment: RandAugment? = nil,
        normalization: Normalization = .imagenet, erasing: RandomErasing? = nil
    ) {
        self.crop = crop
        self.flipProbability = flipProbability
        self.randAugment = randAugment
        self.normalization = normalization
        self.erasing = erasing
    }

    /// Floats one output image takes: 3 x size x size.
    public var valueCount: Int { 3 * crop.size * crop.size }

    /// The 8-bit stages: crop, flip, RandAugment.
    public func augmentedImage(_ image: Image, using rng: inout RandomGenerator) throws -> Image {
        guard image.channels == 3 else {
            throw ImageError(
                .unsupported, source: "TrainingAugmentation",
                message: "needs an RGB image, got \(image.channels) channels: decode with mode .rgb")
        }
        var out = try crop(image, using: &rng)
        if rng.nextDouble() < flipProbability { out = out.flippedHorizontally() }
        if let randAugment { out = try randAugment(out, using: &rng) }
        return out
    }

    /// The float stages on an image from ``augmentedImage(_:using:)``: normalise
    /// into `out` (CHW, ``valueCount`` floats), then erase.
    public func finish(_ image: Image, into out: UnsafeMutablePointer<Float>, using rng: inout RandomGenerator) {
        normalization.write(image, to: out)
        if let erasing, erasing.probability > 0 {
            erasing(out, channels: 3, height: image.height, width: image.width, using: &rng)
        }
    }

    /// The whole transform of one decoded RGB image into `out`.
    public func callAsFunction(
        _ image: Image, into out: UnsafeMutablePointer<Float>, using rng: inout RandomGenerator
    ) throws {
        let augmented = try augmentedImage(image, using: &rng)
        finish(augmented, into: out, using: &rng)
    }
}
