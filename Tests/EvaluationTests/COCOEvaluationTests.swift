import Foundation
import MixmaeData
import MixmaeEvaluation
import MixmaeSupport
import TestSupport
import Testing

@Suite struct COCOEvaluationTests {
    static let keys = COCOBoxMetrics.keys

    @Test func matchesPycocotoolsOnTheFixture() throws {
        let truth = try COCOInstances(
            contentsOfFile: evalFixtures.appendingPathComponent("coco/gt.json").path)
        let detections = try COCODetection.load(
            contentsOfFile: evalFixtures.appendingPathComponent("coco/dets.json").path)
        let metrics = try COCOBoxEvaluator.evaluate(truth: truth, detections: detections)
        let expected = try expectedNumbers("coco/expected.json")
        for (key, value) in zip(Self.keys, metrics.values) {
            let reference = try #require(expected[key] as? Double, "expected.json has no \(key)")
            #expect(abs(value - reference) <= 1e-6, "\(key): \(value) vs \(reference)")
        }
    }

    /// One box, one detection with IoU exactly 0.6: matched at thresholds
    /// 0.50, 0.55 and 0.60 only, so AP = 3/10; area 100 is "small".
    @Test func iouAtAThresholdMatches() throws {
        let metrics = try evaluate(
            truth: [box(id: 1, image: 1, category: 1, [0, 0, 10, 10], area: 100)],
            detections: [detection(image: 1, category: 1, [0, 0, 10, 6], score: 0.9)])
        expect(metrics, [0.3, 1, 0, 0.3, -1, -1, 0.3, 0.3, 0.3, 0.3, -1, -1])
    }

    /// Two higher-scoring detections fall inside a crowd region: matched to it,
    /// they are ignored rather than false positives, so AP = 1. With one
    /// detection per image only the first (ignored) one counts: AR1 = 0.
    @Test func crowdRegionsSwallowDetections() throws {
        let metrics = try evaluate(
            truth: [
                box(id: 1, image: 1, category: 1, [0, 0, 10, 10], area: 100),
                box(id: 2, image: 1, category: 1, [50, 50, 40, 40], area: 1600, crowd: true),
            ],
            detections: [
                detection(image: 1, category: 1, [52, 52, 10, 10], score: 0.9),
                detection(image: 1, category: 1, [60, 60, 20, 20], score: 0.8),
                detection(image: 1, category: 1, [0, 0, 10, 10], score: 0.7),
            ])
        expect(metrics, [1, 1, 1, 1, -1, -1, 0, 1, 1, 1, -1, -1])
    }

    /// Category ids 3, 17, 1000; image 20 has no truth but a top-scoring
    /// detection of category 17, which halves that category's precision
    /// (AP 0.5); category 1000 is perfect; category 3 has no truth boxes and
    /// is left out of the mean (-1); a detection of unknown category 4242 is ignored.
    @Test func imagesWithoutTruthAndArbitraryCategoryIDs() throws {
        let truth = COCOInstances(
            images: [.init(id: 10), .init(id: 20), .init(id: 30)],
            categories: [.init(id: 3, name: "c"), .init(id: 17, name: "q"), .init(id: 1000, name: "k")],
            annotations: [
                box(id: 5, image: 10, category: 17, [0, 0, 20, 20], area: 400),
                box(id: 6, image: 30, category: 1000, [10, 10, 50, 50], area: 2500),
            ])
        let detections = [
            detection(image: 20, category: 17, [0, 0, 20, 20], score: 0.95),
            detection(image: 10, category: 17, [0, 0, 20, 20], score: 0.9),
            detection(image: 30, category: 1000, [10, 10, 50, 50], score: 0.8),
            detection(image: 30, category: 3, [0, 0, 5, 5], score: 0.5),
            detection(image: 10, category: 4242, [0, 0, 20, 20], score: 0.99),
        ]
        let metrics = try COCOBoxEvaluator.evaluate(truth: truth, detections: detections)
        expect(metrics, [0.75, 0.75, 0.75, 0.5, 1, -1, 1, 1, 1, 1, 1, -1])
        #expect(metrics.perCategoryAP.keys.sorted() == [3, 17, 1000])
        for (id, reference) in [3: -1.0, 17: 0.5, 1000: 1] {
            #expect(abs(metrics.perCategoryAP[id]! - reference) <= 1e-12, "category \(id)")
        }
    }

    /// pycocotools' loadRes fails on an empty list; its accumulate() gives
    /// recall 0 and precision 0 wherever truth exists and nothing was detected.
    @Test func noDetectionsGiveZeros() throws {
        let metrics = try evaluate(
            truth: [box(id: 1, image: 1, category: 1, [0, 0, 50, 50], area: 2500)], detections: [])
        expect(metrics, [0, 0, 0, -1, 0, -1, 0, 0, 0, -1, 0, -1])
    }

    @Test func detectionsOnUnknownImagesAreAnError() throws {
        let error = #expect(throws: InputError.self) {
            try evaluate(
                truth: [box(id: 1, image: 1, category: 1, [0, 0, 10, 10], area: 100)],
                detections: [
                    detection(image: 1, category: 1, [0, 0, 10, 10], score: 0.5),
                    detection(image: 99, category: 1, [0, 0, 10, 10], score: 0.5),
                ])
        }
        #expect(error?.description.hasPrefix("detections: [1].image_id: image 99 is not in") == true)
    }

    @Test func jsonErrorsNameTheFileAndPath() throws {
        let directory = try TemporaryFolder().url
        let badBox = try writeJSON(
            [
                "images": [["id": 1]], "categories": [["id": 1, "name": "a"]],
                "annotations": [
                    ["id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1],
                    ["id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "area": 1],
                ],
            ], named: "gt.json", in: directory)
        let boxError = #expect(throws: InputError.self) {
            try COCOInstances(contentsOfFile: badBox)
        }
        #expect(
            boxError?.description
                == "\(badBox): annotations[1].bbox: expected 4 numbers [x, y, width, height], found 3")

        let noArea = try writeJSON(
            [
                "images": [["id": 1]], "categories": [["id": 1, "name": "a"]],
                "annotations": [["id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]]],
            ], named: "noarea.json", in: directory)
        let areaError = #expect(throws: InputError.self) {
            try COCOInstances(contentsOfFile: noArea)
        }
        #expect(areaError?.keyPath == "annotations[0].area")

        let badScore = try writeJSON(
            [["image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "high"]],
            named: "dets.json", in: directory)
        let scoreError = #expect(throws: InputError.self) {
            try COCODetection.load(contentsOfFile: badScore)
        }
        #expect(scoreError?.file == badScore)
        #expect(scoreError?.keyPath == "[0].score")
        #expect(scoreError?.what.hasPrefix("expected a number") == true)

        let notJSON = directory.appendingPathComponent("broken.json")
        try Data("[{\"image_id\": 1,".utf8).write(to: notJSON)
        let parseError = #expect(throws: InputError.self) {
            try COCODetection.load(contentsOfFile: notJSON.path)
        }
        #expect(parseError?.what.hasPrefix("not valid JSON") == true)
    }

    // MARK: Helpers

    private func box(
        id: Int, image: Int, category: Int, _ xywh: [Double], area: Double, crowd: Bool = false
    ) -> COCOInstances.Annotation {
        COCOInstances.Annotation(
            id: id, imageID: image, categoryID: category,
            box: COCOBox(x: xywh[0], y: xywh[1], width: xywh[2], height: xywh[3]), area: area,
            isCrowd: crowd)
    }

    private func detection(image: Int, category: Int, _ xywh: [Double], score: Double)
        -> COCODetection
    {
        COCODetection(
            imageID: image, categoryID: category,
            box: COCOBox(x: xywh[0], y: xywh[1], width: xywh[2], height: xywh[3]), score: score)
    }

    /// One category (id 1) over the images the boxes and detections mention.
    private func evaluate(truth: [COCOInstances.Annotation], detections: [COCODetection]) throws
        -> COCOBoxMetrics
    {
        let images = Set(truth.map(\.imageID)).sorted().map { COCOInstances.ImageRecord(id: $0) }
        let instances = COCOInstances(
            images: images, categories: [.init(id: 1, name: "thing")], annotations: truth)
        return try COCOBoxEvaluator.evaluate(truth: instances, detections: detections)
    }

    /// Checks all twelve numbers (for the cases with detections, pycocotools
    /// 2.0.11 gives exactly these).
    private func expect(
        _ metrics: COCOBoxMetrics, _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for (key, (value, reference)) in zip(Self.keys, zip(metrics.values, expected)) {
            #expect(abs(value - reference) <= 1e-12, "\(key): \(value) vs \(reference)", sourceLocation: sourceLocation)
        }
    }
}
