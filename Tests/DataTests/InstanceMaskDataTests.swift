import Foundation
import MixKit
import MixmaeData
import MixmaeSupport
import TestSupport
import Testing

/// Instance masks through the detection pipeline: rasterised as pycocotools
/// does, resized by nearest neighbour, flipped and padded with the image.
@Suite struct InstanceMaskDataTests {
    func item(_ segmentations: [COCOSegmentation?], width: Int, height: Int) -> DetectionDataset.Item {
        DetectionDataset.Item(
            imageID: 1, path: "/nowhere/a.png", width: width, height: height,
            boxes: segmentations.map { _ in DetectionBox(x1: 0, y1: 0, x2: 1, y2: 1) },
            labels: segmentations.map { _ in 0 }, crowdBoxes: [], segmentations: segmentations)
    }

    /// The pixels of a `width`-wide bitmap that are on, as (x, y).
    func on(_ bitmap: some Collection<UInt8>, width: Int) -> Set<[Int]> {
        Set(bitmap.enumerated().filter { $0.element != 0 }.map { [$0.offset % width, $0.offset / width] })
    }

    @Test func anRLEMaskIsResizedFlippedAndPadded() throws {
        // A 4x2 image (w x h) with pixels (0, 0) and (1, 1) on; doubled to 8x4, padded to 32x32.
        let bitmap: [UInt8] = [1, 0, 0, 0, 0, 1, 0, 0]
        let rle = RunLengthMask(encoding: bitmap, height: 2, width: 4)
        let geometry = DetectionGeometry(
            originalWidth: 4, originalHeight: 2, validWidth: 8, validHeight: 4, paddedWidth: 32, paddedHeight: 32,
            flipped: false)
        let masks = try InstanceMaskRaster.masks(
            [.mask(rle)], item: item([.mask(rle)], width: 4, height: 2), geometry: geometry)
        #expect(masks.count == 1 && masks.height == 32 && masks.width == 32)
        #expect(
            on(masks.bitmap(0), width: 32) == [[0, 0], [1, 0], [0, 1], [1, 1], [2, 2], [3, 2], [2, 3], [3, 3]])
        var flipped = geometry
        flipped.flipped = true
        let mirrored = InstanceMaskRaster.transformed(bitmap, geometry: flipped)
        #expect(on(mirrored, width: 32) == [[7, 0], [6, 0], [7, 1], [6, 1], [5, 2], [4, 2], [5, 3], [4, 3]])
    }

    @Test func aPolygonIsRasterisedAsPycocotoolsThenMoved() throws {
        // The square as pycocotools rasterises it (RunLengthMask matches pycocotools; see RunLengthMaskTests).
        let square = COCOSegmentation.polygons([[2, 2, 6, 2, 6, 6, 2, 6]])
        let reference = square.runLengthMask(height: 10, width: 10).decoded()
        let geometry = DetectionGeometry(
            originalWidth: 10, originalHeight: 10, validWidth: 5, validHeight: 5, paddedWidth: 32, paddedHeight: 32,
            flipped: false)
        let masks = try InstanceMaskRaster.masks(
            [square], item: item([square], width: 10, height: 10), geometry: geometry)
        // Halved by nearest neighbour: output pixel x reads source pixel 2x.
        let want = Set(
            on(reference, width: 10).filter { $0[0] % 2 == 0 && $0[1] % 2 == 0 }.map { [$0[0] / 2, $0[1] / 2] })
        #expect(!want.isEmpty)
        #expect(on(masks.bitmap(0), width: 32) == want)
    }

    @Test func aMissingSegmentationOrAMaskOfAnotherSizeIsAnErrorNamingTheImage() {
        let geometry = DetectionGeometry(
            originalWidth: 4, originalHeight: 2, validWidth: 4, validHeight: 2, paddedWidth: 32, paddedHeight: 32,
            flipped: false)
        let missing = thrownError {
            _ = try InstanceMaskRaster.masks([nil], item: item([nil], width: 4, height: 2), geometry: geometry)
        }
        #expect("\(missing.map { "\($0)" } ?? "")".contains("has no segmentation"))
        let other = COCOSegmentation.mask(RunLengthMask(encoding: [UInt8](repeating: 0, count: 9), height: 3, width: 3))
        let wrong = thrownError {
            _ = try InstanceMaskRaster.masks([other], item: item([other], width: 4, height: 2), geometry: geometry)
        }
        #expect("\(wrong.map { "\($0)" } ?? "")".contains("the mask's size must be the image's"))
    }

    @Test func syntheticDetectionDataCarriesAMaskPerBox() throws {
        let folder = try TemporaryFolder("instance-masks")
        var options = SyntheticDatasetOptions()
        options.imageCount = 40
        options.imageSize = 64
        try SyntheticDatasetGenerator(options: options, workers: 1).generate(into: folder.file("data"))
        let dataset = try DetectionDataset(
            annotationFile: folder.file("data/detection/train.json"),
            imageDirectory: folder.file("data/detection/train/images"))
        #expect(dataset.firstAnnotationWithoutMask() == nil)
        let transform = DetectionTransform(shortSides: [48], maxSize: 48, flipProbability: 1, makesMasks: true)
        var rng = RandomGenerator(seed: 1)
        for item in dataset.items.prefix(4) {
            let sample = try transform(try Image(contentsOfFile: item.path, mode: .rgb), item: item, using: &rng)
            let masks = try #require(sample.masks)
            #expect(masks.count == sample.boxes.count)
            for (k, box) in sample.boxes.enumerated() {
                let pixels = on(masks.bitmap(k), width: masks.width)
                #expect(!pixels.isEmpty)
                // Every mask pixel is inside its (moved) box, up to a pixel of rounding.
                #expect(pixels.allSatisfy { Double($0[0]) >= box.x1 - 1 && Double($0[0]) < box.x2 + 1 })
                #expect(pixels.allSatisfy { Double($0[1]) >= box.y1 - 1 && Double($0[1]) < box.y2 + 1 })
            }
        }
    }
}
