import MixKit
import Testing

/// IoU matrices, batched NMS, the max-IoU assigner and the random sampler on
/// hand-computed cases (and mmdet's documented examples).
@Suite struct BoxAssignmentTests {
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
        BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    // MARK: Overlaps

    /// mmdet's `bbox_overlaps` docstring example, and IoF: the row box's share inside the column box.
    @Test func overlapMatrices() {
        let a = [box(0, 0, 10, 10), box(10, 10, 20, 20), box(32, 32, 38, 42)]
        let b = [box(0, 0, 10, 20), box(0, 10, 10, 19), box(10, 10, 20, 20)]
        let iou = BoxOverlaps(a, b)
        #expect(iou.rows == 3 && iou.columns == 3)
        #expect(iou.values == [0.5, 0, 0, 0, 0, 1, 0, 0, 0])
        let iof = BoxOverlaps([box(0, 0, 10, 10)], [box(5, 0, 15, 10), box(0, 0, 20, 20)], mode: .iof)
        #expect(iof.values == [0.5, 1])
        #expect(abs(BoxOverlaps([box(0, 0, 10, 10)], [box(5, 0, 15, 10)])[0, 0] - 1.0 / 3) < 1e-7)
        // A zero-area box: 0 / max(0, eps) = 0, not NaN.
        #expect(BoxOverlaps([box(3, 3, 3, 3)], [box(3, 3, 3, 3)]).values == [0])
        #expect(BoxOverlaps([], b).values.isEmpty)
    }

    // MARK: Batched NMS

    @Test func batchedNMSSuppressesWithinGroupsOnly() {
        // 0 and 1 overlap with IoU 0.6 (same group: 1 goes); 2 is the same box as 0 in
        // another group (kept); 3 is alone. Result by descending score.
        let boxes = [box(0, 0, 10, 10), box(0, 0, 10, 6), box(0, 0, 10, 10), box(40, 40, 50, 50)]
        let scores: [Float] = [0.9, 0.8, 0.85, 0.3]
        let keep = NonMaximumSuppression.batched(boxes: boxes, scores: scores, groups: [0, 0, 1, 0], iouThreshold: 0.5)
        #expect(keep == [0, 2, 3])
        // IoU equal to the threshold is kept.
        let atThreshold = NonMaximumSuppression.batched(
            boxes: boxes, scores: scores, groups: [0, 0, 1, 0], iouThreshold: 0.6)
        #expect(atThreshold == [0, 2, 1, 3])
        // One group: plain NMS; maxCount keeps the first kept ones.
        let single = NonMaximumSuppression.batched(
            boxes: boxes, scores: scores, groups: [0, 0, 0, 0], iouThreshold: 0.5)
        #expect(single == [0, 3])
        #expect(
            NonMaximumSuppression.batched(
                boxes: boxes, scores: scores, groups: [0, 0, 1, 0], iouThreshold: 0.5, maxCount: 2) == [0, 2])
        #expect(NonMaximumSuppression.batched(boxes: [], scores: [], groups: [], iouThreshold: 0.5).isEmpty)
        // Equal scores: input order.
        #expect(
            NonMaximumSuppression.batched(
                boxes: [box(1, 1, 11, 11), box(0, 0, 10, 10)], scores: [0.5, 0.5], groups: [2, 2], iouThreshold: 0.3)
                == [0])
    }

    /// The offset trick gives what NMS per group gives, on random boxes.
    @Test func batchedNMSAgreesWithPerGroupNMS() {
        var rng = RandomGenerator(seed: 21)
        let boxes = (0..<300).map { _ -> BoundingBox in
            let x = rng.nextUniform() * 100
            let y = rng.nextUniform() * 100
            return box(x, y, x + 5 + rng.nextUniform() * 40, y + 5 + rng.nextUniform() * 40)
        }
        let scores = boxes.map { _ in rng.nextUniform() }
        let groups = boxes.map { _ in rng.nextInt(below: 4) }
        let batched = NonMaximumSuppression.batched(boxes: boxes, scores: scores, groups: groups, iouThreshold: 0.5)
        let perGroup = NonMaximumSuppression.indices(boxes: boxes, scores: scores, labels: groups, iouThreshold: 0.5)
        #expect(batched == perGroup)
        #expect(batched.count > 20 && batched.count < 300)
    }

    // MARK: Max-IoU assignment

    /// mmdet's `MaxIoUAssigner(0.5, 0.5)` docstring example: gt_inds [1, 0].
    @Test func mmdetExample() {
        let a = MaxIoUAssigner(positiveIoU: 0.5, negativeIoU: 0.5).assign(
            priors: [box(0, 0, 10, 10), box(10, 10, 20, 20)], truth: [box(0, 0, 10, 9)], labels: [0])
        #expect(a.truthIndices == [0, BoxAssignment.negative])
        #expect(a.labels == [0, -1])
        #expect(a.maxOverlaps == [0.9, 0])
    }

    /// The RPN's rule (0.7 / 0.3, low-quality matches from 0.3) on priors whose
    /// IoUs with truth box 0 = [0, 0, 10, 10] are 0.8, 0.5, 0.1; prior 3 has IoU
    /// 0.4 with truth box 1, its best; prior 4 has IoU 0.2 with box 2, its best.
    @Test func rpnAssignment() {
        let truth = [box(0, 0, 10, 10), box(100, 100, 110, 110), box(200, 200, 210, 210)]
        let priors = [
            box(0, 0, 10, 8), box(0, 0, 10, 5), box(0, 0, 10, 1), box(100, 100, 110, 104), box(200, 200, 210, 202),
            box(500, 500, 510, 510),
        ]
        let rpn = MaxIoUAssigner.rpn.assign(priors: priors, truth: truth, labels: [3, 7, 1])
        let (neg, ign) = (BoxAssignment.negative, BoxAssignment.ignored)
        #expect(rpn.truthIndices == [0, ign, neg, 1, neg, neg])
        #expect(rpn.labels == [3, -1, -1, 7, -1, -1])
        #expect(rpn.positiveIndices == [0, 3])
        #expect(rpn.negativeIndices == [2, 4, 5])
        for (a, b) in zip(rpn.maxOverlaps, [0.8, 0.5, 0.1, 0.4, 0.2, 0] as [Float]) { #expect(abs(a - b) < 1e-6) }
        // Without low-quality matches, prior 3 (IoU 0.4) stays between the thresholds: ignored.
        var strict = MaxIoUAssigner.rpn
        strict.matchLowQuality = false
        #expect(
            strict.assign(priors: priors, truth: truth, labels: [3, 7, 1]).truthIndices == [0, ign, neg, ign, neg, neg])
        // The RoI head's rule: 0.5 is positive, below is negative.
        let rcnn = MaxIoUAssigner.rcnn.assign(priors: priors, truth: truth, labels: [3, 7, 1])
        #expect(rcnn.truthIndices == [0, 0, neg, neg, neg, neg])
    }

    /// Prior [0, 0, 10, 9.5] has IoU 0.95 with A = [0, 0, 10, 10] and 90/95 with
    /// B = [0, 0, 10, 9]; it is B's best prior, so the low-quality step gives it to
    /// B (mmdet's documented override). Equal best IoUs are all assigned.
    @Test func lowQualityMatchesOverrideAndShare() {
        let truth = [box(0, 0, 10, 10), box(0, 0, 10, 9)]
        let priors = [box(0, 0, 10, 9.5)]
        #expect(MaxIoUAssigner.rpn.assign(priors: priors, truth: truth, labels: [0, 1]).truthIndices == [1])
        var strict = MaxIoUAssigner.rpn
        strict.matchLowQuality = false
        #expect(strict.assign(priors: priors, truth: truth, labels: [0, 1]).truthIndices == [0])
        let twins = [box(0, 0, 10, 5), box(0, 5, 10, 10), box(50, 50, 60, 60)]
        let shared = MaxIoUAssigner.rpn.assign(priors: twins, truth: [box(0, 0, 10, 10)], labels: [4])
        #expect(shared.truthIndices == [0, 0, BoxAssignment.negative])
        var firstOnly = MaxIoUAssigner.rpn
        firstOnly.truthMaxAssignAll = false
        #expect(
            firstOnly.assign(priors: twins, truth: [box(0, 0, 10, 10)], labels: [4]).truthIndices == [
                0, BoxAssignment.ignored, BoxAssignment.negative,
            ])
    }

    /// A prior mostly inside a crowd region (IoF 0.8 > 0.5) is ignored; others are not.
    @Test func crowdRegionsIgnorePriors() {
        var assigner = MaxIoUAssigner.rpn
        assigner.ignoreIoFThreshold = 0.5
        let priors = [box(0, 0, 10, 10), box(100, 100, 110, 110), box(100, 100, 110, 140)]
        let a = assigner.assign(
            priors: priors, truth: [box(0, 0, 10, 10)], labels: [2], ignored: [box(100, 100, 200, 132)])
        #expect(a.truthIndices == [0, BoxAssignment.ignored, BoxAssignment.ignored])
        #expect(a.maxOverlaps[1] == -1)
        let none = MaxIoUAssigner.rpn.assign(priors: priors, truth: [], labels: [])
        #expect(none.truthIndices == [BoxAssignment.negative, BoxAssignment.negative, BoxAssignment.negative])
        #expect(MaxIoUAssigner.rpn.assign(priors: [], truth: [box(0, 0, 1, 1)], labels: [0]).truthIndices.isEmpty)
    }

    // MARK: Random sampling

    @Test func samplerDrawsQuotasFromTheGenerator() {
        // Priors 0..<5 positive (truth 0), 5..<15 negative, 15 ignored.
        let assignment = BoxAssignment(
            truthCount: 1, truthIndices: [Int](repeating: 0, count: 5) + [Int](repeating: -1, count: 10) + [-2],
            maxOverlaps: [Float](repeating: 0, count: 16),
            labels: [Int](repeating: 6, count: 5) + [Int](repeating: -1, count: 11))
        let priors = (0..<16).map { box(Float($0), 0, Float($0) + 1, 1) }
        let truth = [box(0, 0, 1, 1)]
        let sampler = RandomSampler(count: 4, positiveFraction: 0.5, addTruthAsProposals: false)
        var rng = RandomGenerator(seed: 3)
        let s = sampler.sample(assignment, priors: priors, truth: truth, truthLabels: [6], using: &rng)
        #expect(s.positiveIndices.count == 2 && s.negativeIndices.count == 2)
        #expect(
            s.positiveIndices.allSatisfy { (0..<5).contains($0) } && s.positiveIndices == s.positiveIndices.sorted())
        #expect(s.negativeIndices.allSatisfy { (5..<15).contains($0) } && Set(s.negativeIndices).count == 2)
        #expect(s.positiveLabels == [6, 6] && s.positiveTruthBoxes == [truth[0], truth[0]])
        // The same seed draws the same samples; other seeds draw others.
        var again = RandomGenerator(seed: 3)
        #expect(sampler.sample(assignment, priors: priors, truth: truth, truthLabels: [6], using: &again) == s)
        var draws = Set<[Int]>()
        for seed in 0..<20 {
            var r = RandomGenerator(seed: UInt64(seed))
            draws.insert(
                sampler.sample(assignment, priors: priors, truth: truth, truthLabels: [6], using: &r).negativeIndices)
        }
        #expect(draws.count > 5)
        // Too few positives: negatives fill the rest, up to neg_pos_ub x positives when bounded.
        let wide = RandomSampler(count: 12, positiveFraction: 0.5, addTruthAsProposals: false)
        let filled = wide.sample(assignment, priors: priors, truth: truth, truthLabels: [6], using: &rng)
        #expect(filled.positiveIndices == [0, 1, 2, 3, 4] && filled.negativeIndices.count == 7)
        let bounded = RandomSampler(
            count: 12, positiveFraction: 0.5, negativePositiveUpperBound: 1, addTruthAsProposals: false)
        #expect(
            bounded.sample(assignment, priors: priors, truth: truth, truthLabels: [6], using: &rng).negativeIndices
                .count == 5)
    }

    /// The RoI head's sampler puts the truth boxes in front of the proposals, as positives of themselves.
    @Test func samplerAddsTruthAsProposals() {
        let truth = [box(0, 0, 10, 10), box(50, 50, 60, 60)]
        let proposals = [box(0, 0, 10, 9), box(80, 80, 90, 90)]
        let assignment = MaxIoUAssigner.rcnn.assign(priors: proposals, truth: truth, labels: [1, 2])
        var rng = RandomGenerator(seed: 9)
        let s = RandomSampler.rcnn.sample(
            assignment, priors: proposals, truth: truth, truthLabels: [1, 2], using: &rng)
        #expect(s.priors == truth + proposals)
        #expect(s.isTruth == [true, true, false, false])
        #expect(s.positiveIndices == [0, 1, 2] && s.negativeIndices == [3])
        #expect(s.positiveTruthIndices == [0, 1, 0] && s.positiveLabels == [1, 2, 1])
        #expect(s.assignment.maxOverlaps[0] == 1 && s.assignment.maxOverlaps[1] == 1)
        #expect(RandomSampler.rcnn.count == 512 && Int(Double(512) * RandomSampler.rcnn.positiveFraction) == 128)
    }
}
