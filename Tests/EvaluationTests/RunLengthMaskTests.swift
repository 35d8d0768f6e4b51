import Foundation
import MixmaeData
import MixmaeEvaluation
import MixmaeSupport
import TestSupport
import Testing

/// COCO's run-length masks against pycocotools 2.0.11: every expected string,
/// area and box below was printed by `pycocotools.mask` (`encode`,
/// `frPyObjects` + `merge`, `area`, `toBbox`, `iou`) for the same input.
@Suite struct RunLengthMaskTests {
    /// Rows of a 4 x 5 mask; column-major runs are 3 0s, 1 1, 1 0, 2 1s, 2 0s, ...
    static let small: [[UInt8]] = [[0, 0, 0, 0, 1], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [1, 0, 0, 0, 0]]

    @Test func encodesColumnMajorStartingWithBackground() throws {
        let mask = RunLengthMask(encoding: Self.small.flatMap { $0 }, height: 4, width: 5)
        #expect(mask.counts == [3, 1, 1, 2, 2, 2, 2, 2, 1, 1, 3])
        #expect(mask.compressedCounts == "31111000OO2")
        #expect(mask.area == 8)
        #expect(mask.boundingBox == COCOBox(x: 0, y: 0, width: 5, height: 4))
        #expect(mask.decoded() == Self.small.flatMap { $0 })
        let full = RunLengthMask(encoding: [UInt8](repeating: 1, count: 9), height: 3, width: 3)
        #expect(full.counts == [0, 9] && full.compressedCounts == "09" && full.area == 9)
        let empty = RunLengthMask(encoding: [UInt8](repeating: 0, count: 9), height: 3, width: 3)
        #expect(empty.compressedCounts == "9" && empty.boundingBox == COCOBox(x: 0, y: 0, width: 0, height: 0))
    }

    /// Strings with multi-character counts and negative differences read back
    /// to the same counts, and re-encode to pycocotools' exact string.
    @Test func compressedStringsRoundTrip() throws {
        var rows = [[UInt8]](repeating: [UInt8](repeating: 0, count: 80), count: 60)
        for y in 5..<50 { for x in 10..<75 { rows[y][x] = 1 } }
        for y in stride(from: 0, to: 60, by: 7) { rows[y][5] = 1 }
        rows[59][79] = 1
        let big = RunLengthMask(encoding: rows.flatMap { $0 }, height: 60, width: 80)
        let expected =
            "\\916000000000000000b7\\1gH" + String(repeating: "0", count: 127) + "V9dN"
        #expect(big.compressedCounts == expected)
        #expect(big.area == 2935 && big.boundingBox == COCOBox(x: 5, y: 0, width: 75, height: 60))
        #expect(try RunLengthMask(compressedCounts: expected, height: 60, width: 80) == big)
        let far = try RunLengthMask(compressedCounts: "TT^h0:nn00000000dam5", height: 1000, width: 1000)
        #expect(far.area == 50 && far.boundingBox == COCOBox(x: 800, y: 900, width: 5, height: 10))
        #expect(far.compressedCounts == "TT^h0:nn00000000dam5")
    }

    @Test func badStringsAreReported() {
        #expect(throws: RunLengthMask.FormatError.self) {
            try RunLengthMask(compressedCounts: "31111000OO", height: 4, width: 5)
        }
        #expect(throws: RunLengthMask.FormatError.self) {
            try RunLengthMask(compressedCounts: "3~", height: 4, width: 5)
        }
        // 'i' has the continuation bit: the string ends inside a count.
        let cut = #expect(throws: RunLengthMask.FormatError.self) {
            try RunLengthMask(compressedCounts: "3i", height: 4, width: 5)
        }
        #expect(cut?.message.contains("middle") == true)
        let total = #expect(throws: RunLengthMask.FormatError.self) {
            try RunLengthMask.validated(height: 2, width: 2, counts: [1, 2])
        }
        #expect(total?.message.contains("add up to 3 pixels") == true)
    }

    /// `frPyObjects(polygons, 20, 30)` then `merge`, as `annToRLE` does.
    @Test(
        arguments: [
            (
                "triangle", [[2.3, 3.1, 17.8, 4.4, 9.6, 15.2]], "o12b02N101N2N1O2NO1O1N2O1O1N2O1O]7", 88,
                [3.0, 3, 15, 12]
            ),
            ("concave", [[1, 1, 12, 1, 12, 12, 7, 5, 1, 12]], "e0::O1O1O1O1N21O1O1O2N1V;", 81, [1, 1, 11, 10]),
            (
                "outside", [[-4.2, -3.0, 35.5, 2.0, 33.0, 25.1, 10.0, 18.7]],
                "04`02N1O2N1O2N1O2N1O2N1O0000e50[J000000000000", 500, [0, 0, 30, 20]
            ),
            (
                "duplicate points", [[5, 5, 5, 5, 15, 5, 15, 15, 15, 15, 5, 15]], "Y3::00000000000000000W9", 100,
                [5, 5, 10, 10]
            ),
            (
                "two parts", [[1, 1, 6, 1, 6, 6, 1, 6], [20, 10, 28, 10, 24, 18]], "e05?0000000Q9LSG2N2N2N00N2N2NP1",
                57,
                [1, 1, 27, 16]
            ),
            (
                "a later 2-point part", [[3.5, 2.25, 10, 7.5, 4, 9], [20, 3, 25, 9]], "c26?O1N101O1OY<", 20,
                [4, 3, 6, 6]
            ),
            ("too thin", [[4.0, 4.0, 4.4, 4.0, 4.4, 14.0]], "hb0", 0, [0, 0, 0, 0]),
        ] as [(String, [[Double]], String, Int, [Double])])
    func polygonsRasteriseAsPycocotools(
        _ name: String, _ polygons: [[Double]], _ counts: String, _ area: Int, _ box: [Double]
    ) {
        let mask = COCOSegmentation.polygons(polygons).runLengthMask(height: 20, width: 30)
        #expect(mask.compressedCounts == counts, "\(name)")
        #expect(mask.area == area, "\(name)")
        #expect(mask.boundingBox == COCOBox(x: box[0], y: box[1], width: box[2], height: box[3]), "\(name)")
    }

    /// `frBbox` (a box as the polygon of its corners) and `frUncompressedRLE`.
    @Test func boxesAndUncompressedRLE() throws {
        let box = RunLengthMask(box: COCOBox(x: 3.5, y: 2.25, width: 10, height: 7.5), height: 20, width: 30)
        #expect(box.compressedCounts == "b28<00000000000000000n9" && box.area == 80)
        let json = Data(#"{"size": [3, 4], "counts": [2, 3, 4, 3]}"#.utf8)
        let segmentation = try JSONDecoder().decode(COCOSegmentation.self, from: json)
        let mask = segmentation.runLengthMask(height: 99, width: 99)
        #expect(mask.compressedCounts == "2340" && mask.height == 3 && mask.width == 4 && mask.area == 6)
    }

    /// Union and intersection of a 12 x 12 and a 17 x 10 square (`merge`), and
    /// `iou` with crowd flags [0, 1, 0]: a crowd truth divides by the detection's area.
    @Test func mergeAndIoU() {
        let a = RunLengthMask(polygon: [2, 2, 14, 2, 14, 14, 2, 14], height: 20, width: 30)
        let b = RunLengthMask(polygon: [8, 8, 25, 8, 25, 18, 8, 18], height: 20, width: 30)
        let c = RunLengthMask(polygon: [26, 0, 29, 0, 29, 3, 26, 3], height: 20, width: 30)
        #expect(a.area == 144 && b.area == 170)
        let union = RunLengthMask.merge([a, b])
        #expect(union.compressedCounts == "Z1<800000000004L0000000006J00000000000000000000l2" && union.area == 278)
        let intersection = RunLengthMask.merge([a, b], intersect: true)
        #expect(intersection.compressedCounts == "X56>000000000h9" && intersection.area == 36)
        #expect(RunLengthMask.merge([a]) == a)
        let ious = RunLengthMask.iou([a, b, c], [b, a, c], crowd: [false, true, false])
        let expected: [[Double]] = [[0.12949640287769784, 1, 0], [1, 0.21176470588235294, 0], [0, 0, 1]]
        for (row, want) in zip(ious, expected) {
            for (value, reference) in zip(row, want) { #expect(abs(value - reference) < 1e-15) }
        }
        let other = RunLengthMask(polygon: [2, 2, 8, 2, 8, 8], height: 10, width: 10)
        #expect(RunLengthMask.iou([other], [a], crowd: [false]) == [[-1]])
        #expect(RunLengthMask.merge([a, other]).counts.isEmpty)
    }

    /// 60 random multi-part polygons (some points outside the image, on half
    /// pixels or repeated) on random sizes, with what pycocotools gave for them
    /// (`Tests/Data/pycocotools_polygons.json`): every string, area, box and IoU equal.
    @Test func randomPolygonsEqualPycocotools() throws {
        struct Case: Decodable {
            var size: [Int]
            var polygons: [[Double]]
            var union: String
            var intersection: String
            var area: Int
            var bbox: [Double]
            var iou: [Double]
            var iouCrowd: [Double]

            enum CodingKeys: String, CodingKey {
                case size, polygons, union, intersection, area, bbox, iou
                case iouCrowd = "iou_crowd"
            }
        }
        struct File: Decodable { var cases: [Case] }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Data/pycocotools_polygons.json")
        let cases = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
        #expect(cases.count == 60)
        for (i, c) in cases.enumerated() {
            let parts = c.polygons.map { RunLengthMask(polygon: $0, height: c.size[0], width: c.size[1]) }
            let union = RunLengthMask.merge(parts)
            #expect(union.compressedCounts == c.union, "case \(i)")
            #expect(RunLengthMask.merge(parts, intersect: true).compressedCounts == c.intersection, "case \(i)")
            #expect(union.area == c.area, "case \(i)")
            #expect(
                union.boundingBox == COCOBox(x: c.bbox[0], y: c.bbox[1], width: c.bbox[2], height: c.bbox[3]),
                "case \(i)")
            #expect(RunLengthMask.iou(parts, [union], crowd: [false]).map { $0[0] } == c.iou, "case \(i)")
            #expect(RunLengthMask.iou(parts, [union], crowd: [true]).map { $0[0] } == c.iouCrowd, "case \(i)")
            #expect(RunLengthMask(encoding: union.decoded(), height: c.size[0], width: c.size[1]) == union, "case \(i)")
        }
    }

    @Test func segmentationJSONErrorsNameThePath() throws {
        let directory = try TemporaryFolder().url
        defer { try? FileManager.default.removeItem(at: directory) }
        func truth(_ segmentation: Any) throws -> String {
            try writeJSON(
                [
                    "images": [["id": 1, "height": 4, "width": 5]], "categories": [["id": 1, "name": "a"]],
                    "annotations": [
                        [
                            "id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1,
                            "segmentation": segmentation,
                        ]
                    ],
                ], named: "gt-\(UUID().uuidString.prefix(6)).json", in: directory)
        }
        let cases: [(Any, String, String)] = [
            ([] as [Any], "annotations[0].segmentation", "an empty list of polygons"),
            ([[1, 2, 3, 4]], "annotations[0].segmentation", "at least 3 points"),
            ([[1, 2, 3, 4, 5, 6, 7]], "annotations[0].segmentation", "an even count"),
            (["size": [4, 5], "counts": "31111000OO"], "annotations[0].segmentation.counts", "add up to 17 pixels"),
            (["size": [4], "counts": "9"], "annotations[0].segmentation.size", "expected [height, width]"),
            (["size": [4, 5], "counts": [3, -1]], "annotations[0].segmentation.counts", "whole numbers"),
            ("polygon", "annotations[0].segmentation", "expected a list of polygons or an RLE object"),
        ]
        for (segmentation, path, words) in cases {
            let file = try truth(segmentation)
            let error = #expect(throws: InputError.self) { try COCOInstances(contentsOfFile: file) }
            #expect(error?.keyPath == path, "\(segmentation)")
            #expect(error?.what.contains(words) == true, "\(segmentation): \(error?.what ?? "")")
        }
    }
}
