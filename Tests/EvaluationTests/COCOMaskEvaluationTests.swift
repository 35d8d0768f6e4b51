import Foundation
import MixmaeData
import MixmaeEvaluation
import MixmaeSupport
import TestSupport
import Testing

/// COCO mask AP (`COCOeval(..., "segm")`) against pycocotools: the shared
/// fixture, and small cases whose twelve numbers pycocotools 2.0.11 printed.
@Suite struct COCOMaskEvaluationTests {
    @Test func matchesPycocotoolsOnTheFixture() throws {
        let folder = evalFixtures.appendingPathComponent("segm")
        let truth = try COCOInstances(contentsOfFile: folder.appendingPathComponent("gt.json").path)
        let detections = try COCODetection.load(contentsOfFile: folder.appendingPathComponent("dets.json").path)
        #expect(truth.annotations.allSatisfy { $0.segmentation != nil })
        #expect(detections.allSatisfy { $0.segmentation != nil })
        let metrics = try COCOBoxEvaluator.evaluate(truth: truth, detections: detections, iouType: .segm)
        let expected = try expectedNumbers("segm/expected.json")
        for (key, value) in zip(COCOBoxMetrics.keys, metrics.values) {
            let reference = try #require(expected[key] as? Double, "expected.json has no \(key)")
            #expect(abs(value - reference) <= 1e-6, "\(key): \(value) vs \(reference)")
        }
    }

    /// A 4 x 4 image: truth = columns 0-1 (8 px), a crowd region = columns 2-3.
    /// Detections: column 3 (inside the crowd: IoU 4/4 over its own area,
    /// ignored), columns 0-1 plus two pixels (IoU 0.8), column 0 (IoU 0.5).
    /// Matched at 7 of 10 thresholds: AP 0.7; the top detection is the ignored one: AR1 0.
    @Test func crowdMasksSwallowDetections() throws {
        let metrics = try evaluate(
            truth: [
                ["id": 1, "segmentation": ["size": [4, 4], "counts": [0, 8, 8]], "area": 8, "iscrowd": 0],
                ["id": 2, "segmentation": ["size": [4, 4], "counts": [8, 8]], "area": 8, "iscrowd": 1],
            ],
            image: ["id": 7, "height": 4, "width": 4],
            detections: [
                ["segmentation": ["size": [4, 4], "counts": "<4"], "score": 0.95],
                ["segmentation": ["size": [4, 4], "counts": "0:6"], "score": 0.9],
                ["segmentation": ["size": [4, 4], "counts": "04<"], "score": 0.5],
            ])
        expect(metrics, [0.7, 1, 1, 0.7, -1, -1, 0, 0.7, 0.7, 0.7, -1, -1])
    }

    /// pycocotools' `loadRes` takes a detection's area from its bbox when the
    /// first result has one: the higher-scoring miss (mask of 16 px, box of
    /// 1600) then falls outside "small" and is ignored there (APs 1); without
    /// boxes its mask area (16) counts and APs is 0.5.
    @Test func detectionAreaFollowsLoadRes() throws {
        let truth: [[String: Any]] = [
            ["id": 1, "segmentation": [[2, 2, 14, 2, 14, 14, 2, 14]], "area": 144, "iscrowd": 0]
        ]
        let image: [String: Any] = ["id": 3, "height": 20, "width": 30]
        var detections: [[String: Any]] = [
            ["bbox": [20, 0, 40, 40], "segmentation": ["size": [20, 30], "counts": "b<4`000000f3"], "score": 0.95],
            [
                "bbox": [2, 2, 12, 12], "segmentation": ["size": [20, 30], "counts": "Z1<8000000000000000000000n9"],
                "score": 0.9,
            ],
        ]
        let withBoxes = try evaluate(truth: truth, image: image, detections: detections)
        expect(withBoxes, [0.5, 0.5, 0.5, 1, -1, -1, 0, 1, 1, 1, -1, -1])
        for i in detections.indices { detections[i]["bbox"] = nil }
        let masksOnly = try evaluate(truth: truth, image: image, detections: detections)
        expect(masksOnly, [0.5, 0.5, 0.5, 0.5, -1, -1, 0, 1, 1, 1, -1, -1])
        // Box results evaluated as masks: each box becomes the polygon of its corners.
        let boxes = try evaluate(
            truth: truth, image: image,
            detections: [["bbox": [2, 2, 12, 12], "score": 0.9], ["bbox": [3, 2, 12, 12], "score": 0.8]])
        expect(boxes, [1, 1, 1, 1, -1, -1, 1, 1, 1, 1, -1, -1])
    }

    @Test func missingMasksAndSizesAreErrors() throws {
        let (instances, results) = try inputs(
            truth: [["id": 5, "area": 4, "iscrowd": 0]], image: ["id": 3, "height": 20, "width": 30],
            detections: [["bbox": [0, 0, 2, 2], "score": 0.5]])
        let noMask = #expect(throws: InputError.self) {
            try COCOBoxEvaluator.evaluate(truth: instances, detections: results, iouType: .segm)
        }
        #expect(noMask?.keyPath == "annotations[0].segmentation")
        // Box evaluation does not need masks.
        #expect(throws: Never.self) { try COCOBoxEvaluator.evaluate(truth: instances, detections: results) }
        let truth = try COCOInstances(
            jsonData: json([
                "images": [["id": 3]], "categories": [["id": 1, "name": "a"]],
                "annotations": [
                    [
                        "id": 1, "image_id": 3, "category_id": 1, "bbox": [0, 0, 2, 2], "area": 4,
                        "segmentation": [[0, 0, 2, 0, 2, 2]],
                    ]
                ],
            ]), source: "gt.json")
        let detections = try COCODetection.decode(
            jsonData: json([["image_id": 3, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.5]]))
        let error = #expect(throws: InputError.self) {
            try COCOBoxEvaluator.evaluate(truth: truth, detections: detections, iouType: .segm, truthSource: "gt.json")
        }
        #expect(error?.description.hasPrefix("gt.json: images[0]: image 3 has no height and width") == true)
        // Results with neither a box nor a mask, or a polygon where an RLE is needed.
        let neither = #expect(throws: InputError.self) {
            try COCODetection.decode(
                jsonData: json([["image_id": 3, "category_id": 1, "score": 0.5]]), source: "d.json")
        }
        #expect(neither?.keyPath == "[0]")
        let polygon = #expect(throws: InputError.self) {
            try COCODetection.decode(
                jsonData: json([["image_id": 3, "category_id": 1, "segmentation": [[0, 0, 2, 0, 2, 2]], "score": 0.5]]))
        }
        #expect(polygon?.keyPath == "[0].segmentation")
        let mixed = #expect(throws: InputError.self) {
            try COCODetection.decode(
                jsonData: json([
                    ["image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5],
                    [
                        "image_id": 3, "category_id": 1, "segmentation": ["size": [1, 1], "counts": "01"], "score": 0.5,
                    ],
                ]))
        }
        #expect(mixed?.keyPath == "[1].bbox")
    }

    // MARK: Helpers

    private func json(_ value: Any) throws -> Data { try JSONSerialization.data(withJSONObject: value) }

    /// Masks of one image and category (1): truth entries get `image_id`,
    /// `category_id` and a bbox, detections `image_id` and `category_id`.
    private func inputs(truth: [[String: Any]], image: [String: Any], detections: [[String: Any]]) throws
        -> (COCOInstances, [COCODetection])
    {
        let imageID = image["id"] as! Int
        let annotations = truth.map { entry -> [String: Any] in
            var entry = entry
            entry["image_id"] = imageID
            entry["category_id"] = 1
            entry["bbox"] = [0, 0, 1, 1]
            return entry
        }
        let instances = try COCOInstances(
            jsonData: json(["images": [image], "categories": [["id": 1, "name": "a"]], "annotations": annotations]))
        let results = try COCODetection.decode(
            jsonData: json(
                detections.map { entry -> [String: Any] in
                    var entry = entry
                    entry["image_id"] = imageID
                    entry["category_id"] = 1
                    return entry
                }))
        return (instances, results)
    }

    private func evaluate(truth: [[String: Any]], image: [String: Any], detections: [[String: Any]]) throws
        -> COCOBoxMetrics
    {
        let (instances, results) = try inputs(truth: truth, image: image, detections: detections)
        return try COCOBoxEvaluator.evaluate(truth: instances, detections: results, iouType: .segm)
    }

    private func expect(
        _ metrics: COCOBoxMetrics, _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for (key, (value, reference)) in zip(COCOBoxMetrics.keys, zip(metrics.values, expected)) {
            #expect(abs(value - reference) <= 1e-12, "\(key): \(value) vs \(reference)", sourceLocation: sourceLocation)
        }
    }
}
