import Foundation
import MixKit
import MixmaeSupport

/// Instance masks moved with their image, as mmdetection 2.x does with
/// `LoadAnnotations(with_mask=True, poly2mask=True)`, `Resize`, `RandomFlip` and
/// `Pad`: each segmentation is rasterised on the file's pixels (pycocotools'
/// `annToRLE`), resized to the valid size by nearest neighbour (`cv2.INTER_NEAREST`:
/// source pixel `floor(x * old / new)`), mirrored with the image, and padded with
/// zeros to the padded size.
///
/// ```swift
/// let masks = try InstanceMaskRaster.masks(item.segmentations, item: item, geometry: geometry)
/// masks.count == item.boxes.count
/// ```
public enum InstanceMaskRaster {
    /// One mask per segmentation, at `geometry`'s padded size.
    public static func masks(
        _ segmentations: [COCOSegmentation?], item: DetectionDataset.Item, geometry: DetectionGeometry
    ) throws -> InstanceMasks {
        let (height, width) = (geometry.originalHeight, geometry.originalWidth)
        let bitmaps = try segmentations.enumerated().map { position, segmentation -> [UInt8] in
            guard let segmentation else {
                throw InputError(
                    file: item.path,
                    problem: "annotation \(position) of image id \(item.imageID) has no segmentation, but the "
                        + "model trains masks: give every non-crowd annotation polygons or an RLE mask")
            }
            let mask = segmentation.runLengthMask(height: height, width: width)
            guard mask.height == height, mask.width == width else {
                throw InputError(
                    file: item.path,
                    problem: "annotation \(position) of image id \(item.imageID) has an RLE mask of "
                        + "\(mask.width)x\(mask.height) but the image is \(width)x\(height): the mask's size must "
                        + "be the image's")
            }
            return transformed(mask.decoded(), geometry: geometry)
        }
        return InstanceMasks(height: geometry.paddedHeight, width: geometry.paddedWidth, bitmaps: bitmaps)
    }

    /// A row-major bitmap of the file's size, resized, flipped and padded as `geometry` says.
    public static func transformed(_ bitmap: [UInt8], geometry: DetectionGeometry) -> [UInt8] {
        let (sourceHeight, sourceWidth) = (geometry.originalHeight, geometry.originalWidth)
        precondition(bitmap.count == sourceHeight * sourceWidth, "InstanceMaskRaster: bitmap of the wrong size")
        let (validHeight, validWidth) = (geometry.validHeight, geometry.validWidth)
        let (paddedHeight, paddedWidth) = (geometry.paddedHeight, geometry.paddedWidth)
        let xScale = Double(sourceWidth) / Double(validWidth)
        let yScale = Double(sourceHeight) / Double(validHeight)
        let columns = (0..<validWidth).map { min(Int((Double($0) * xScale).rounded(.down)), sourceWidth - 1) }
        var out = [UInt8](repeating: 0, count: paddedHeight * paddedWidth)
        for y in 0..<validHeight {
            let sourceRow = min(Int((Double(y) * yScale).rounded(.down)), sourceHeight - 1) * sourceWidth
            for x in 0..<validWidth {
                let column = geometry.flipped ? validWidth - 1 - x : x
                out[y * paddedWidth + x] = bitmap[sourceRow + columns[column]] != 0 ? 1 : 0
            }
        }
        return out
    }
}
