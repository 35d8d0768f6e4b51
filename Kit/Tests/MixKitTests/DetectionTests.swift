import MixKit
import Testing

/// Non-maximum suppression on hand-computed cases.
@Suite struct DetectionTests {
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
        BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    @Test func suppressesOverlapsAboveTheThreshold() {
        // B = [0, 0, 10, 6] lies inside A = [0, 0, 10, 10]: IoU 60/100 = 0.6.
        let boxes = [box(0, 0, 10, 10), box(0, 0, 10, 6), box(20, 20, 30, 30)]
        let scores: [Float] = [0.9, 0.8, 0.7]
        #expect(abs(boxes[0].iou(boxes[1]) - 0.6) < 1e-6)
        #expect(NonMaximumSuppression.indices(boxes: boxes, scores: scores, iouThreshold: 0.5) == [0, 2])
        #expect(NonMaximumSuppression.indices(boxes: boxes, scores: scores, iouThreshold: 0.7) == [0, 1, 2])
        // An IoU equal to the threshold is kept (only strictly greater suppresses).
        #expect(NonMaximumSuppression.indices(boxes: boxes, scores: scores, iouThreshold: 0.6) == [0, 1, 2])
        // Score order, not input order, decides who survives.
        #expect(NonMaximumSuppression.indices(boxes: boxes, scores: [0.5, 0.8, 0.7], iouThreshold: 0.5) == [1, 2])
    }

    @Test func suppressesWithinEachClassOnly() {
        let boxes = [box(0, 0, 10, 10), box(1, 0, 10, 10), box(0, 1, 10, 10), box(50, 50, 60, 60)]
        let scores: [Float] = [0.6, 0.9, 0.5, 0.95]
        let labels = [0, 1, 0, 1]
        // Class 0: 0 beats 2 (IoU 0.9); class 1: 1 and 3 do not overlap. Merged by score.
        let kept = NonMaximumSuppression.indices(boxes: boxes, scores: scores, labels: labels, iouThreshold: 0.5)
        #expect(kept == [3, 1, 0])
        let all = NonMaximumSuppression.indices(boxes: boxes, scores: scores, iouThreshold: 0.5)
        #expect(all == [3, 1])
    }

    @Test func equalScoresKeepInputOrder() {
        let a = box(0, 0, 10, 10)
        let b = box(1, 1, 11, 11)
        #expect(NonMaximumSuppression.indices(boxes: [a, b], scores: [0.5, 0.5], iouThreshold: 0.3) == [0])
        #expect(NonMaximumSuppression.indices(boxes: [b, a], scores: [0.5, 0.5], iouThreshold: 0.3) == [0])
        let detections = [
            Detection(box: a, score: 0.5, label: 0), Detection(box: b, score: 0.5, label: 0),
            Detection(box: box(40, 40, 50, 50), score: 0.5, label: 0),
        ]
        #expect(
            NonMaximumSuppression.select(detections, iouThreshold: 0.3, maxCount: 10) == [detections[0], detections[2]])
    }

    @Test func selectKeepsTheTopK() {
        let detections = (0..<5).map { i in
            Detection(box: box(Float(i) * 20, 0, Float(i) * 20 + 10, 10), score: Float(i) / 10, label: i % 2)
        }
        let top = NonMaximumSuppression.select(detections, iouThreshold: 0.5, maxCount: 2)
        #expect(top == [detections[4], detections[3]])
        #expect(NonMaximumSuppression.select(detections, iouThreshold: 0.5, maxCount: 0).isEmpty)
        #expect(NonMaximumSuppression.select([], iouThreshold: 0.5, maxCount: 10).isEmpty)
    }
}
