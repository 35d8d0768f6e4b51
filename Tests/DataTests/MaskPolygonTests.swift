import Foundation
import MixKit
import MixmaeData
import TestSupport
import Testing

/// Masks traced as COCO polygons (`MaskPolygons`) rasterise back to the same pixels with
/// pycocotools' `rleFrPoly` + `merge` (``RunLengthMask``, equal to pycocotools on the fixtures).
@Suite struct MaskPolygonTests {
    /// The polygons rasterised and merged, as pycocotools' `annToRLE` does, row-major (no polygons: empty).
    func rasterised(_ polygons: [[Double]], height: Int, width: Int) -> [UInt8] {
        guard !polygons.isEmpty else { return [UInt8](repeating: 0, count: height * width) }
        return RunLengthMask.merge(polygons.map { RunLengthMask(polygon: $0, height: height, width: width) }).decoded()
    }

    func mask(height: Int, width: Int, _ isOn: (Int, Int) -> Bool) -> [UInt8] {
        (0..<(height * width)).map { isOn($0 % width, $0 / width) ? 1 : 0 }
    }

    @Test func aRectangleIsItsFourCornersAndRasterisesExactly() {
        let rectangle = mask(height: 7, width: 9) { x, y in (2...5).contains(x) && (1...3).contains(y) }
        let polygons = MaskPolygons.trace(rectangle, height: 7, width: 9)
        #expect(polygons == [[2, 1, 6, 1, 6, 4, 2, 4]])
        #expect(rasterised(polygons, height: 7, width: 9) == rectangle)
        #expect(MaskPolygons.trace([UInt8](repeating: 0, count: 63), height: 7, width: 9).isEmpty)
    }

    @Test func aRingIsOneKeyholePolygonWhoseHoleStaysEmpty() {
        let ring = mask(height: 20, width: 20) { x, y in
            let d = (Double(x) - 9.5) * (Double(x) - 9.5) + (Double(y) - 9.5) * (Double(y) - 9.5)
            return d <= 64 && d >= 16
        }
        let polygons = MaskPolygons.trace(ring, height: 20, width: 20)
        #expect(polygons.count == 1)
        let back = rasterised(polygons, height: 20, width: 20)
        #expect(back == ring)
        #expect(back[10 * 20 + 10] == 0)
        // The cut: the outline's first corner is visited again on the way to the hole.
        let corners = stride(from: 0, to: polygons[0].count, by: 2).map { [polygons[0][$0], polygons[0][$0 + 1]] }
        #expect(corners.filter { $0 == corners[0] }.count == 2)
    }

    @Test func partsCutApartOrTouchingAtACornerAreSeveralPolygons() {
        // A bar cut in two by an occluder column, and two pixels touching diagonally.
        let cut = mask(height: 6, width: 12) { x, y in (1...10).contains(x) && (1...2).contains(y) && x != 5 }
        let cutPolygons = MaskPolygons.trace(cut, height: 6, width: 12)
        #expect(cutPolygons == [[1, 1, 5, 1, 5, 3, 1, 3], [6, 1, 11, 1, 11, 3, 6, 3]])
        #expect(rasterised(cutPolygons, height: 6, width: 12) == cut)
        let diagonal = mask(height: 4, width: 4) { x, y in (x, y) == (1, 1) || (x, y) == (2, 2) }
        let diagonalPolygons = MaskPolygons.trace(diagonal, height: 4, width: 4)
        #expect(diagonalPolygons == [[1, 1, 2, 1, 2, 2, 1, 2], [2, 2, 3, 2, 3, 3, 2, 3]])
        #expect(rasterised(diagonalPolygons, height: 4, width: 4) == diagonal)
    }

    @Test func randomMasksWithHolesAndIslandsRoundTripExactly() {
        var rng = RandomGenerator(seed: 7)
        for trial in 0..<200 {
            let (height, width) = (3 + trial % 11, 2 + trial % 13)
            let density = [0.2, 0.5, 0.8][trial % 3]
            let random = (0..<(height * width)).map { _ in UInt8(rng.nextUniform() < Float(density) ? 1 : 0) }
            let polygons = MaskPolygons.trace(random, height: height, width: width)
            #expect(rasterised(polygons, height: height, width: width) == random, "trial \(trial)")
            #expect(polygons.allSatisfy { $0.count >= 8 && $0.count % 2 == 0 })
        }
    }

    @Test func syntheticAnnotationsArePolygonsOfTheVisiblePixels() throws {
        var options = SyntheticDatasetOptions()
        options.imageCount = 40
        options.imageSize = 64
        // Every visible object of every image: its traced polygons are exactly its visible mask.
        var several = 0
        for index in 0..<options.imageCount {
            let sample = SyntheticSample(index: index, options: options)
            let size = options.denseSize(ofImage: index)
            for annotation in sample.annotations {
                let visible = RunLengthMask(
                    height: size.height, width: size.width, counts: annotation.runLengths.map { UInt32($0) }
                ).decoded()
                let polygons = MaskPolygons.trace(visible, height: size.height, width: size.width)
                #expect(rasterised(polygons, height: size.height, width: size.width) == visible, "image \(index)")
                if polygons.count > 1 { several += 1 }
            }
        }
        #expect(several > 0, "some object is cut apart by an occluder")
        // The files: polygons for every object, RLE for crowd objects, areas equal to the polygons'.
        let folder = try TemporaryFolder("mask-polygons")
        try SyntheticDatasetGenerator(options: options, workers: 1).generate(into: folder.file("data"))
        let truth = try COCOInstances(contentsOfFile: folder.file("data/detection/train.json"))
        let sizes = Dictionary(uniqueKeysWithValues: truth.images.map { ($0.id, ($0.height ?? 0, $0.width ?? 0)) })
        #expect(!truth.annotations.isEmpty)
        for annotation in truth.annotations {
            let (height, width) = sizes[annotation.imageID]!
            switch annotation.segmentation {
            case .polygons(let polygons)?:
                #expect(!annotation.isCrowd)
                let pixels = rasterised(polygons, height: height, width: width).filter { $0 != 0 }.count
                #expect(Double(pixels) == annotation.area)
            case .mask?:
                #expect(annotation.isCrowd)
            case nil:
                Issue.record("annotation of image \(annotation.imageID) has no segmentation")
            }
        }
    }
}
