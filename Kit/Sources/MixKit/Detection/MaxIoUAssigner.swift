/// What an assigner gives every prior (anchor or proposal): a truth box, or
/// negative, or ignored (mmdet's `AssignResult`, with 0-based truth indices).
///
/// ```swift
/// let a = MaxIoUAssigner.rpn.assign(priors: anchors, truth: boxes, labels: classes)
/// a.truthIndices[i]   // >= 0: index into `boxes`; BoxAssignment.negative; BoxAssignment.ignored
/// ```
public struct BoxAssignment: Sendable, Equatable {
    /// A prior assigned to the background.
    public static let negative = -1
    /// A prior left out of the losses.
    public static let ignored = -2

    /// The number of truth boxes assigned from.
    public var truthCount: Int
    /// Per prior: the assigned truth box (0-based), ``negative`` or ``ignored``.
    public var truthIndices: [Int]
    /// Per prior: its largest overlap with any truth box (0 when there is none;
    /// -1 for a prior inside an ignored region).
    public var maxOverlaps: [Float]
    /// Per prior: the class of the assigned truth box, -1 for the others.
    public var labels: [Int]

    public init(truthCount: Int, truthIndices: [Int], maxOverlaps: [Float], labels: [Int]) {
        precondition(
            truthIndices.count == maxOverlaps.count && truthIndices.count == labels.count,
            "BoxAssignment: \(truthIndices.count) indices, \(maxOverlaps.count) overlaps, \(labels.count) labels")
        self.truthCount = truthCount
        self.truthIndices = truthIndices
        self.maxOverlaps = maxOverlaps
        self.labels = labels
    }

    /// Priors assigned to a truth box, ascending.
    public var positiveIndices: [Int] { truthIndices.indices.filter { truthIndices[$0] >= 0 } }
    /// Priors assigned to the background, ascending.
    public var negativeIndices: [Int] { truthIndices.indices.filter { truthIndices[$0] == Self.negative } }

    /// mmdet's `add_gt_`: the truth boxes put in front of the priors, each
    /// assigned to itself with overlap 1 and its class `labels`.
    public func prependingTruth(labels truthLabels: [Int]) -> BoxAssignment {
        precondition(
            truthLabels.count == truthCount, "BoxAssignment: \(truthLabels.count) labels for \(truthCount) truth boxes")
        return BoxAssignment(
            truthCount: truthCount, truthIndices: Array(0..<truthCount) + truthIndices,
            maxOverlaps: [Float](repeating: 1, count: truthCount) + maxOverlaps, labels: truthLabels + labels)
    }
}

/// mmdet's `MaxIoUAssigner`: each prior takes the truth box it overlaps most.
///
/// In order, as mmdet: (1) every prior starts ignored; (2) a prior whose best
/// IoU is in `[0, negativeIoU)` becomes negative; (3) one whose best IoU is
/// `>= positiveIoU` takes that box (ties: the first box); (4) with
/// `matchLowQuality`, every truth box whose best IoU is `>= minPositiveIoU`
/// takes the priors that reach it (all of them when `truthMaxAssignAll`), even
/// over a step-3 assignment. Priors whose intersection-over-own-area with an
/// ignored region exceeds `ignoreIoFThreshold` (when positive) are left ignored.
///
/// ```swift
/// let assignment = MaxIoUAssigner.rcnn.assign(priors: proposals, truth: boxes, labels: classes)
/// ```
public struct MaxIoUAssigner: Sendable, Equatable {
    public var positiveIoU: Float
    public var negativeIoU: Float
    public var minPositiveIoU: Float
    public var matchLowQuality: Bool
    public var truthMaxAssignAll: Bool
    public var ignoreIoFThreshold: Float

    public init(
        positiveIoU: Float, negativeIoU: Float, minPositiveIoU: Float = 0, matchLowQuality: Bool = true,
        truthMaxAssignAll: Bool = true, ignoreIoFThreshold: Float = -1
    ) {
        self.positiveIoU = positiveIoU
        self.negativeIoU = negativeIoU
        self.minPositiveIoU = minPositiveIoU
        self.matchLowQuality = matchLowQuality
        self.truthMaxAssignAll = truthMaxAssignAll
        self.ignoreIoFThreshold = ignoreIoFThreshold
    }

    /// The RPN's assigner in mmdet's Mask R-CNN: 0.7 / 0.3, low-quality matches from 0.3.
    public static let rpn = MaxIoUAssigner(positiveIoU: 0.7, negativeIoU: 0.3, minPositiveIoU: 0.3)
    /// The RoI head's assigner in mmdet's Mask R-CNN config: 0.5 / 0.5 / 0.5 with
    /// `match_low_quality=True` (which, at `min_pos_iou` = `pos_iou_thr`, only
    /// re-points a proposal to the truth box it is the best match of).
    public static let rcnn = MaxIoUAssigner(positiveIoU: 0.5, negativeIoU: 0.5, minPositiveIoU: 0.5)

    /// Assigns `priors` to `truth` boxes of classes `labels`; `ignored` are
    /// regions (crowds) whose priors are left out when ``ignoreIoFThreshold`` > 0.
    public func assign(
        priors: [BoundingBox], truth: [BoundingBox], labels: [Int], ignored: [BoundingBox] = []
    ) -> BoxAssignment {
        precondition(
            truth.count == labels.count, "MaxIoUAssigner: \(truth.count) truth boxes but \(labels.count) labels")
        let n = priors.count
        let k = truth.count
        if k == 0 || n == 0 {
            return BoxAssignment(
                truthCount: k,
                truthIndices: [Int](repeating: k == 0 ? BoxAssignment.negative : BoxAssignment.ignored, count: n),
                maxOverlaps: [Float](repeating: 0, count: n), labels: [Int](repeating: -1, count: n))
        }
        var overlaps = BoxOverlaps(truth, priors).values
        if ignoreIoFThreshold > 0 && !ignored.isEmpty {
            let iof = BoxOverlaps(priors, ignored, mode: .iof)
            for p in 0..<n {
                var best = -Float.infinity
                for g in 0..<iof.columns { best = max(best, iof[p, g]) }
                if best > ignoreIoFThreshold {
                    for t in 0..<k { overlaps[t * n + p] = -1 }
                }
            }
        }
        var assigned = [Int](repeating: BoxAssignment.ignored, count: n)
        var maxOverlaps = [Float](repeating: 0, count: n)
        for p in 0..<n {
            var best = overlaps[p]
            var argBest = 0
            for t in 1..<k where overlaps[t * n + p] > best {
                best = overlaps[t * n + p]
                argBest = t
            }
            maxOverlaps[p] = best
            if best >= 0 && best < negativeIoU { assigned[p] = BoxAssignment.negative }
            if best >= positiveIoU { assigned[p] = argBest }
        }
        if matchLowQuality {
            for t in 0..<k {
                let row = t * n
                var best = overlaps[row]
                var argBest = 0
                for p in 1..<n where overlaps[row + p] > best {
                    best = overlaps[row + p]
                    argBest = p
                }
                guard best >= minPositiveIoU else { continue }
                if truthMaxAssignAll {
                    for p in 0..<n where overlaps[row + p] == best { assigned[p] = t }
                } else {
                    assigned[argBest] = t
                }
            }
        }
        return BoxAssignment(
            truthCount: k, truthIndices: assigned, maxOverlaps: maxOverlaps,
            labels: assigned.map { $0 >= 0 ? labels[$0] : -1 })
    }
}

/// The priors a head trains on, from ``RandomSampler/sample(_:priors:truth:truthLabels:using:)``
/// (mmdet's `SamplingResult`).
public struct SamplingResult: Sendable, Equatable {
    /// The priors sampled from: the truth boxes first when the sampler adds them, then the priors given.
    public var priors: [BoundingBox]
    /// The assignment of ``priors`` (with the truth boxes prepended when added).
    public var assignment: BoxAssignment
    /// Indices into ``priors`` of the sampled positives, ascending.
    public var positiveIndices: [Int]
    /// Indices into ``priors`` of the sampled negatives, ascending.
    public var negativeIndices: [Int]
    /// Per prior: whether it is a truth box the sampler added.
    public var isTruth: [Bool]
    /// The truth boxes assigned from.
    public var truth: [BoundingBox]

    /// The sampled positive priors.
    public var positivePriors: [BoundingBox] { positiveIndices.map { priors[$0] } }
    /// The sampled negative priors.
    public var negativePriors: [BoundingBox] { negativeIndices.map { priors[$0] } }
    /// For each sampled positive, the index of its truth box.
    public var positiveTruthIndices: [Int] { positiveIndices.map { assignment.truthIndices[$0] } }
    /// For each sampled positive, its truth box (the regression target).
    public var positiveTruthBoxes: [BoundingBox] { positiveTruthIndices.map { truth[$0] } }
    /// For each sampled positive, its class.
    public var positiveLabels: [Int] { positiveIndices.map { assignment.labels[$0] } }
}

/// mmdet's `RandomSampler`: at most `count` priors, of which at most
/// `Int(count * positiveFraction)` positives, drawn uniformly without replacement
/// from the assigned positives; negatives fill the rest (bounded by
/// `negativePositiveUpperBound` x positives when that is >= 0). With
/// `addTruthAsProposals` the truth boxes join the priors first (as positives of
/// themselves), as the RoI head's sampler does. Randomness comes only from the
/// generator passed in.
///
/// ```swift
/// var rng = RandomGenerator(seed: 7)
/// let s = RandomSampler.rcnn.sample(assignment, priors: proposals, truth: boxes, truthLabels: classes, using: &rng)
/// let targets = DeltaXYWHBBoxCoder.rcnn.encode(s.positivePriors, to: s.positiveTruthBoxes)
/// ```
public struct RandomSampler: Sendable, Equatable {
    public var count: Int
    public var positiveFraction: Double
    public var negativePositiveUpperBound: Int
    public var addTruthAsProposals: Bool

    public init(count: Int, positiveFraction: Double, negativePositiveUpperBound: Int = -1, addTruthAsProposals: Bool) {
        precondition(count >= 0, "RandomSampler: count \(count) must not be negative")
        precondition(
            (0...1).contains(positiveFraction), "RandomSampler: positive fraction \(positiveFraction) not in [0, 1]")
        self.count = count
        self.positiveFraction = positiveFraction
        self.negativePositiveUpperBound = negativePositiveUpperBound
        self.addTruthAsProposals = addTruthAsProposals
    }

    /// The RPN's sampler in mmdet's Mask R-CNN: 256 anchors, half positives.
    public static let rpn = RandomSampler(count: 256, positiveFraction: 0.5, addTruthAsProposals: false)
    /// The RoI head's sampler in mmdet's Mask R-CNN: 512 proposals, a quarter positives, truth boxes added.
    public static let rcnn = RandomSampler(count: 512, positiveFraction: 0.25, addTruthAsProposals: true)

    /// Samples from `assignment` of `priors` to `truth` (classes `truthLabels`).
    public func sample(
        _ assignment: BoxAssignment, priors: [BoundingBox], truth: [BoundingBox], truthLabels: [Int],
        using rng: inout RandomGenerator
    ) -> SamplingResult {
        precondition(
            assignment.truthIndices.count == priors.count,
            "RandomSampler: assignment of \(assignment.truthIndices.count) priors for \(priors.count) priors")
        precondition(assignment.truthCount == truth.count, "RandomSampler: assignment made from another truth list")
        var allPriors = priors
        var assigned = assignment
        var isTruth = [Bool](repeating: false, count: priors.count)
        if addTruthAsProposals && !truth.isEmpty {
            allPriors = truth + priors
            assigned = assignment.prependingTruth(labels: truthLabels)
            isTruth = [Bool](repeating: true, count: truth.count) + isTruth
        }
        let positives = Self.choose(assigned.positiveIndices, Int(Double(count) * positiveFraction), using: &rng)
        var negativeQuota = count - positives.count
        if negativePositiveUpperBound >= 0 {
            negativeQuota = min(negativeQuota, negativePositiveUpperBound * max(1, positives.count))
        }
        let negatives = Self.choose(assigned.negativeIndices, negativeQuota, using: &rng)
        return SamplingResult(
            priors: allPriors, assignment: assigned, positiveIndices: positives, negativeIndices: negatives,
            isTruth: isTruth, truth: truth)
    }

    /// All of `gallery` when it holds at most `wanted`, else `wanted` of them
    /// drawn without replacement; ascending either way (mmdet's `unique()`).
    static func choose(_ gallery: [Int], _ wanted: Int, using rng: inout RandomGenerator) -> [Int] {
        guard gallery.count > wanted else { return gallery }
        guard wanted > 0 else { return [] }
        return rng.permutation(gallery.count).prefix(wanted).map { gallery[$0] }.sorted()
    }
}
