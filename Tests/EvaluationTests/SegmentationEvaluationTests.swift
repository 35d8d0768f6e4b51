import Foundation
import MixmaeData
import MixmaeEvaluation
import MixmaeSupport
import TestSupport
import Testing

@Suite struct SegmentationEvaluationTests {
    @Test func matchesTheFixtureThroughTheLibrary() throws {
        let seg = evalFixtures.appendingPathComponent("seg")
        let expected = try expectedNumbers("seg/expected.json")
        let evaluator = try SegmentationEvaluator.evaluate(
            truthDirectory: seg.appendingPathComponent("gt").path,
            predictionDirectory: seg.appendingPathComponent("pred").path,
            classCount: try #require(expected["num_classes"] as? Int))
        let metrics = evaluator.metrics
        #expect(evaluator.imageCount == 12)
        let perClass = try #require(expected["per_class_iou"] as? [Double])
        #expect(metrics.perClassIoU.count == perClass.count)
        for (value, reference) in zip(metrics.perClassIoU, perClass) {
            #expect(abs(value - reference) <= 1e-6)
        }
        #expect(abs(metrics.meanIoU - (expected["mIoU"] as! Double)) <= 1e-6)
        #expect(abs(metrics.pixelAccuracy - (expected["aAcc"] as! Double)) <= 1e-6)
    }

    /// Two 2x2 images, 4 classes. Truth A = [0, 0, 1, 255], prediction A =
    /// [0, 1, 1, 3]; truth B is all ignored. Class 0: inter 1, union 2; class 1:
    /// inter 1, union 2; class 2 absent everywhere (NaN, left out of the mean);
    /// class 3 predicted only on an ignored pixel, so absent too.
    @Test func handMadeWithAnAllIgnoredImage() throws {
        var evaluator = try SegmentationEvaluator(classCount: 4)
        try evaluator.add(prediction: [UInt8]([0, 1, 1, 3]), truth: [0, 0, 1, 255])
        let before = evaluator.metrics
        try evaluator.add(prediction: [UInt8]([2, 2, 3, 0]), truth: [255, 255, 255, 255])
        let metrics = evaluator.metrics
        #expect(metrics == before)
        #expect(metrics.perClassIoU[0] == 0.5 && metrics.perClassIoU[1] == 0.5)
        #expect(metrics.perClassIoU[2].isNaN && metrics.perClassIoU[3].isNaN)
        #expect(metrics.meanIoU == 0.5)
        #expect(metrics.pixelAccuracy == 2.0 / 3.0)
        #expect(
            metrics.json == "{\"per_class_iou\": [0.5, 0.5, null, null], \"mIoU\": 0.5, \"aAcc\": 0.6666666666666666}")
    }

    /// Predictions outside 0..<classCount (255 here) count for no class: a
    /// miss for the truth class. A class predicted but never true has IoU 0.
    @Test func outOfRangePredictionsAreMisses() throws {
        var evaluator = try SegmentationEvaluator(classCount: 3)
        try evaluator.add(prediction: [Int32]([255, 0, 2, -1]), truth: [0, 0, 1, 1])
        let metrics = evaluator.metrics
        #expect(metrics.perClassIoU[0] == 0.5)  // inter 1, pred 1 + truth 2 - 1
        #expect(metrics.perClassIoU[1] == 0)  // truth 2, never predicted
        #expect(metrics.perClassIoU[2] == 0)  // predicted once, never true
        #expect(metrics.meanIoU == 0.5 / 3)
        #expect(metrics.pixelAccuracy == 0.25)
    }

    @Test func truthOutsideTheClassesIsCountedAndSkipped() throws {
        var evaluator = try SegmentationEvaluator(classCount: 2)
        try evaluator.add(prediction: [Int]([0, 1, 1]), truth: [0, 7, 1])
        #expect(evaluator.outOfRangeTruthPixels == 1)
        #expect(evaluator.metrics.pixelAccuracy == 1)
        // mmseg still counts the prediction on that pixel: class 1 union is 2.
        #expect(evaluator.metrics.perClassIoU == [1, 0.5])
    }

    @Test func reduceZeroLabelShiftsTheTruth() throws {
        var evaluator = try SegmentationEvaluator(classCount: 2, reduceZeroLabel: true)
        try evaluator.add(prediction: [UInt8]([0, 0, 1, 1]), truth: [0, 1, 2, 255])
        // truth becomes [ignored, 0, 1, ignored]
        #expect(evaluator.metrics.perClassIoU == [1, 1])
        #expect(evaluator.metrics.pixelAccuracy == 1)
    }

    @Test func directoriesMustPairUpAndAgreeInSize() throws {
        let root = try TemporaryFolder().url
        let truth = root.appendingPathComponent("gt")
        let prediction = root.appendingPathComponent("pred")
        for directory in [truth, prediction] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let map = try Image(width: 4, height: 3, channels: 1, pixels: [UInt8](repeating: 1, count: 12))
        try map.write(toFile: truth.appendingPathComponent("a.png").path)
        try map.write(toFile: truth.appendingPathComponent("b.png").path)
        try map.write(toFile: prediction.appendingPathComponent("a.png").path)
        let missing = #expect(throws: InputError.self) {
            try SegmentationEvaluator.evaluate(
                truthDirectory: truth.path, predictionDirectory: prediction.path, classCount: 2)
        }
        #expect(missing?.what.contains("1 file(s) have no counterpart") == true)
        #expect(missing?.what.contains("b.png") == true)

        let small = try Image(width: 2, height: 3, channels: 1)
        try small.write(toFile: prediction.appendingPathComponent("b.png").path)
        let size = #expect(throws: InputError.self) {
            try SegmentationEvaluator.evaluate(
                truthDirectory: truth.path, predictionDirectory: prediction.path, classCount: 2)
        }
        #expect(size?.what.contains("is 2x3 but its truth") == true)
    }
}
