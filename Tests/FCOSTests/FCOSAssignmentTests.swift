import MixFCOS
import MixKit
import Testing

/// FCOS's target assignment (the FCOS plugin's own code) on hand-computed cases.
@Suite struct FCOSAssignmentTests {
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
        BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    @Test func rangesFromBoundaries() {
        let ranges = FCOSAssigner.ranges(boundaries: [64, 128])
        #expect(ranges.count == 3)
        #expect(ranges[0] == -1...64)
        #expect(ranges[1] == 64...128)
        #expect(ranges[2].lowerBound == 128 && ranges[2].upperBound > 1e30)
    }

    @Test func pointsAreCellCentres() {
        let level = LevelPoints(height: 2, width: 3, stride: 8)
        #expect(level.point(0).x == 4 && level.point(0).y == 4)
        #expect(level.point(2).x == 20 && level.point(2).y == 4)
        #expect(level.point(4).x == 12 && level.point(4).y == 12)
    }

    @Test func assignsBySizeRangePerLevel() {
        // Level 0: stride 8, 4x4 points at 4, 12, 20, 28; level 1: stride 16, 2x2 points at 8, 24.
        // Level 0 regresses max(l,t,r,b) <= 10, level 1 >= 10.
        let levels = [LevelPoints(height: 4, width: 4, stride: 8), LevelPoints(height: 2, width: 2, stride: 16)]
        let assigner = FCOSAssigner(ranges: FCOSAssigner.ranges(boundaries: [10]))
        let small = box(0, 0, 12, 12)
        let large = box(0, 0, 32, 32)
        let a = assigner.assign(levels: levels, boxes: [small, large], labels: [0, 1])
        // Level 0: only (4, 4) is inside the small box (12 is on its edge, not strictly inside);
        // for the large box every level-0 point is at least 20 from some side, outside the range.
        var want = [Int](repeating: FCOSAssigner.background, count: 20)
        want[0] = 0
        // Level 1: the small box's distances are at most 8 (< 10), the large box's 24: all four are the large box.
        for i in 16..<20 { want[i] = 1 }
        #expect(a.labels == want)
        #expect(a.positiveCount == 5)
        #expect(Array(a.distances[0..<4]) == [4, 4, 8, 8])
        #expect(abs(a.centerness[0] - 0.5) < 1e-6)
        #expect(Array(a.distances[64..<68]) == [8, 8, 24, 24])
        for i in 16..<20 { #expect(abs(a.centerness[i] - 1.0 / 3) < 1e-6, "point \(i)") }
        #expect(a.boxIndices[0] == 0 && a.boxIndices[16] == 1 && a.boxIndices[5] == -1)
        #expect(a.centerness[5] == 0 && Array(a.distances[20..<24]) == [0, 0, 0, 0])
    }

    @Test func ambiguousPointsGoToTheSmallestBox() {
        let level = [LevelPoints(height: 1, width: 1, stride: 24)]  // one point at (12, 12)
        let assigner = FCOSAssigner(ranges: FCOSAssigner.ranges(boundaries: []))
        let c = box(0, 0, 20, 20)  // area 400
        let d = box(2, 2, 30, 30)  // area 784
        #expect(assigner.assign(levels: level, boxes: [c, d], labels: [3, 5]).labels == [3])
        #expect(assigner.assign(levels: level, boxes: [d, c], labels: [5, 3]).labels == [3])
        // Equal areas: the box listed first.
        let e = box(4, 4, 24, 24)
        #expect(assigner.assign(levels: level, boxes: [c, e], labels: [3, 4]).labels == [3])
        #expect(assigner.assign(levels: level, boxes: [e, c], labels: [4, 3]).labels == [4])
        // No boxes: all background.
        #expect(assigner.assign(levels: level, boxes: [], labels: []).labels == [FCOSAssigner.background])
    }

    @Test func centreSamplingShrinksTheCandidates() {
        let level = [LevelPoints(height: 4, width: 4, stride: 8)]
        let big = box(0, 0, 32, 32)
        let plain = FCOSAssigner(ranges: [-1...100])
        #expect(plain.assign(levels: level, boxes: [big], labels: [0]).positiveCount == 16)
        // Radius 1.5 * 8 = 12 around the centre (16, 16): [4, 28] on both axes, strictly inside: 12 and 20.
        let sampled = FCOSAssigner(ranges: [-1...100], centerSampling: true, centerSampleRadius: 1.5)
        let a = sampled.assign(levels: level, boxes: [big], labels: [0])
        #expect(a.positiveCount == 4)
        #expect(a.labels[5] == 0 && a.labels[6] == 0 && a.labels[9] == 0 && a.labels[10] == 0)
        // The region is clipped to the box: a thin box keeps its own width.
        let thin = box(10, 0, 14, 32)
        let t = sampled.assign(levels: level, boxes: [thin], labels: [0])
        #expect(t.labels.enumerated().filter { $0.element == 0 }.map(\.offset) == [5, 9])
    }

    @Test func unassignedPointsInCrowdRegionsAreIgnored() {
        let level = [LevelPoints(height: 2, width: 2, stride: 8)]  // points (4,4) (12,4) (4,12) (12,12)
        let assigner = FCOSAssigner(ranges: [-1...100])
        let a = assigner.assign(
            levels: level, boxes: [box(0, 0, 8, 8)], labels: [2], ignoredRegions: [box(0, 0, 16, 8)])
        #expect(a.labels == [2, FCOSAssigner.ignored, FCOSAssigner.background, FCOSAssigner.background])
    }
}
