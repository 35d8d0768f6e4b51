import Foundation
import TestSupport
import Testing

/// `mixmae eval coco --iou-type segm` through the built binary.
@Suite struct EvalSegmCommandTests {
    @Test func segmJSONMatchesTheFixture() throws {
        let segm = evalFixtures.appendingPathComponent("segm")
        let run = try runMixmae([
            "eval", "coco", "--gt", segm.appendingPathComponent("gt.json").path,
            "--pred", segm.appendingPathComponent("dets.json").path, "--iou-type", "segm", "--format", "json",
        ])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("masks on 6 images"))
        let output = try #require(
            JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Double])
        let expected = try expectedNumbers("segm/expected.json")
        #expect(Set(output.keys) == Set(expected.keys))
        for (key, reference) in expected {
            #expect(abs(output[key]! - (reference as! Double)) <= 1e-6, "\(key)")
        }
    }

    /// The same results scored as boxes differ (their boxes come from the masks), and
    /// a bad --iou-type is refused with the choices.
    @Test func iouTypeSelectsTheComparison() throws {
        let segm = evalFixtures.appendingPathComponent("segm")
        let arguments = [
            "eval", "coco", "--gt", segm.appendingPathComponent("gt.json").path,
            "--pred", segm.appendingPathComponent("dets.json").path,
        ]
        let boxes = try runMixmae(arguments + ["--format", "json"])
        #expect(boxes.status == 0, "stderr: \(boxes.stderr)")
        let masks = try runMixmae(arguments + ["--iou-type", "segm", "--format", "json"])
        #expect(boxes.stdout != masks.stdout)
        let bad = try runMixmae(arguments + ["--iou-type", "mask"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("bbox") && bad.stderr.contains("segm"))
    }
}
