import Foundation
import TestSupport
import Testing

/// The same fixtures through the built `mixmae` binary.
@Suite struct EvalCommandTests {
    @Test func cocoJSONMatchesTheFixture() throws {
        let coco = evalFixtures.appendingPathComponent("coco")
        let run = try runMixmae([
            "eval", "coco", "--gt", coco.appendingPathComponent("gt.json").path,
            "--pred", coco.appendingPathComponent("dets.json").path, "--format", "json",
        ])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let output = try #require(
            JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Double])
        let expected = try expectedNumbers("coco/expected.json")
        #expect(Set(output.keys) == Set(expected.keys))
        for (key, reference) in expected {
            #expect(abs(output[key]! - (reference as! Double)) <= 1e-6, "\(key)")
        }
    }

    @Test func cocoTableHasPycocotoolsLines() throws {
        let coco = evalFixtures.appendingPathComponent("coco")
        let run = try runMixmae([
            "eval", "coco", "--gt", coco.appendingPathComponent("gt.json").path,
            "--pred", coco.appendingPathComponent("dets.json").path,
        ])
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 12)
        #expect(
            lines.first
                == " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.267")
        #expect(
            lines.last
                == " Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.410")
    }

    @Test func segJSONMatchesTheFixture() throws {
        let seg = evalFixtures.appendingPathComponent("seg")
        let expected = try expectedNumbers("seg/expected.json")
        let run = try runMixmae([
            "eval", "seg", "--gt", seg.appendingPathComponent("gt").path,
            "--pred", seg.appendingPathComponent("pred").path,
            "--num-classes", "\(expected["num_classes"] as! Int)", "--ignore-index", "255", "--format", "json",
        ])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let output = try #require(
            JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let perClass = try #require(output["per_class_iou"] as? [Double])
        for (value, reference) in zip(perClass, expected["per_class_iou"] as! [Double]) {
            #expect(abs(value - reference) <= 1e-6)
        }
        #expect(perClass.count == (expected["per_class_iou"] as! [Double]).count)
        #expect(abs((output["mIoU"] as! Double) - (expected["mIoU"] as! Double)) <= 1e-6)
        #expect(abs((output["aAcc"] as! Double) - (expected["aAcc"] as! Double)) <= 1e-6)
    }

    @Test func badInputExitsNonZeroWithTheReason() throws {
        let directory = try TemporaryFolder().url
        let truth = try writeJSON(
            ["images": [["id": 1]], "categories": [["id": 1, "name": "a"]], "annotations": []],
            named: "gt.json", in: directory)
        let detections = try writeJSON(
            [["image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5]],
            named: "dets.json", in: directory)
        let run = try runMixmae(["eval", "coco", "--gt", truth, "--pred", detections])
        #expect(run.status != 0)
        #expect(run.stderr.contains("\(detections): [0].image_id: image 2 is not in the ground truth"))

        let seg = try runMixmae([
            "eval", "seg", "--gt", directory.path, "--pred", directory.appendingPathComponent("none").path,
            "--num-classes", "3",
        ])
        #expect(seg.status != 0)
        #expect(seg.stderr.contains("none: not a directory"))
    }
}
