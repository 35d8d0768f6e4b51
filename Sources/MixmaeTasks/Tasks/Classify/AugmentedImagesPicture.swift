import MixKit
import MixmaeData

/// A grid of training images exactly as the loader hands them to the model (crop, flip,
/// RandAugment, normalisation, RandomErasing), de-normalised back to 8-bit RGB: what the
/// run report of a classification finetune shows, so one can see the augmentation at work
/// (an erased rectangle shows as coloured noise with `remode: pixel`).
///
/// ```swift
/// let batch = try loader.batches(epoch: 0, skip: 0).next()!
/// let picture = try AugmentedImagesPicture(batch: batch, normalization: recipe.normalization)
/// try picture.image.write(toFile: "runs/3/pictures/augmented-training-images.png")
/// ```
public struct AugmentedImagesPicture {
    /// The file name in the run's `pictures/` folder.
    public static let fileName = "augmented-training-images.png"

    public let image: Image
    /// How many images the grid shows.
    public let count: Int

    /// The first `limit` images of `batch` in rows of `columns`, 2 white pixels apart.
    public init(batch: Batch, normalization: Normalization, limit: Int = 16, columns: Int = 8) throws {
        let shape = batch.images.shape
        let (side, plane) = (shape[3], shape[1] * shape[2] * shape[3])
        count = min(limit, shape[0])
        let across = max(1, min(columns, count))
        let rows = (count + across - 1) / across
        let gap = 2
        let width = across * side + (across + 1) * gap
        let height = rows * shape[2] + (rows + 1) * gap
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        for i in 0..<count {
            let tile = try normalization.image(
                fromCHW: batch.images.data + i * plane, width: shape[3], height: shape[2])
            let left = gap + (i % across) * (side + gap)
            let top = gap + (i / across) * (shape[2] + gap)
            for y in 0..<tile.height {
                let from = y * tile.width * 3
                let to = ((top + y) * width + left) * 3
                pixels.replaceSubrange(to..<(to + tile.width * 3), with: tile.pixels[from..<(from + tile.width * 3)])
            }
        }
        image = try Image(width: width, height: height, channels: 3, pixels: pixels)
    }
}
