import Foundation
import MixmaeData
import MixmaeSupport

/// What COCO evaluation compares: boxes (`bbox`) or masks (`segm`), as
/// pycocotools' `COCOeval(..., iouType)`.
public enum COCOIoUType: String, Sendable, CaseIterable {
    case bbox
    case segm
}

/// Mask IoUs of the cells of a `segm` evaluation, as pycocotools' `_prepare`
/// and `computeIoU` make them: truth segmentations become masks with `annToRLE`
/// (polygons on their image's size), detections too (a detection without a
/// segmentation is its box as a polygon, as `loadRes` makes it), then
/// `maskUtils.iou` with the crowd rule.
struct COCOMaskOverlaps {
    let truth: COCOInstances
    let detections: [COCODetection]
    let truthSource: String
    let detectionSource: String
    private let imageIndex: [Int: Int]
    private let annotationIndex: [Int: Int]

    init(truth: COCOInstances, detections: [COCODetection], truthSource: String, detectionSource: String) {
        self.truth = truth
        self.detections = detections
        self.truthSource = truthSource
        self.detectionSource = detectionSource
        var images: [Int: Int] = [:]
        for (i, image) in truth.images.enumerated() where images[image.id] == nil { images[image.id] = i }
        imageIndex = images
        var annotations: [Int: Int] = [:]
        for (i, annotation) in truth.annotations.enumerated() where annotations[annotation.id] == nil {
            annotations[annotation.id] = i
        }
        annotationIndex = annotations
    }

    /// `ious[d][g]` for the detections and truth of `cell`.
    func ious(_ cell: COCOBoxEvaluator.Cell) throws -> [[Double]] {
        let truthMasks = try cell.truth.map { annotation -> RunLengthMask in
            guard let segmentation = annotation.segmentation else {
                let index = annotationIndex[annotation.id].map { "[\($0)]" } ?? "(id \(annotation.id))"
                throw InputError(
                    file: truthSource, keyPath: "annotations\(index).segmentation",
                    problem: "missing; mask evaluation (--iou-type segm) needs every annotation's polygons or RLE")
            }
            return try mask(of: segmentation, image: annotation.imageID, file: truthSource)
        }
        let detectionMasks = try cell.detections.map { entry -> RunLengthMask in
            let detection = detections[entry.id - 1]
            let box = detection.box
            let segmentation =
                detection.segmentation
                ?? .polygons([
                    [
                        box.x, box.y, box.x, box.y + box.height, box.x + box.width, box.y + box.height,
                        box.x + box.width, box.y,
                    ]
                ])
            return try mask(of: segmentation, image: detection.imageID, file: detectionSource)
        }
        return RunLengthMask.iou(detectionMasks, truthMasks, crowd: cell.truth.map(\.isCrowd))
    }

    private func mask(of segmentation: COCOSegmentation, image id: Int, file: String) throws -> RunLengthMask {
        guard segmentation.needsImageSize else { return segmentation.runLengthMask(height: 0, width: 0) }
        let index = imageIndex[id]
        guard let index, let height = truth.images[index].height, let width = truth.images[index].width else {
            throw InputError(
                file: truthSource, keyPath: index.map { "images[\($0)]" } ?? "images",
                problem: "image \(id) has no height and width, which rasterising polygons (\(file)) needs")
        }
        return segmentation.runLengthMask(height: height, width: width)
    }
}
