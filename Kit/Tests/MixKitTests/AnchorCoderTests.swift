import Foundation
import MixKit
import Testing

/// Anchors and box deltas of two-stage detection, against values computed by
/// hand (float32, in mmdet's order of operations) and mmdet's own examples.
@Suite struct AnchorCoderTests {
    func box(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) -> BoundingBox {
        BoundingBox(x1: x1, y1: y1, x2: x2, y2: y2)
    }

    func expectClose(
        _ a: [BoundingBox], _ b: [BoundingBox], tolerance: Float = 1e-4,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(a.count == b.count, sourceLocation: sourceLocation)
        for (x, y) in zip(a, b) {
            let d = max(abs(x.x1 - y.x1), abs(x.y1 - y.y1), abs(x.x2 - y.x2), abs(x.y2 - y.y2))
            #expect(d <= tolerance, "\(x) vs \(y)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Anchors

    /// Stride 4, scale 8: w = 4 * (1/sqrt(r)) * 8, h = 4 * sqrt(r) * 8, centred on 0;
    /// float32 gives sqrt(0.5) = 0.70710677, 1/that = 1.4142135, half-sizes 22.627417 and 11.313708.
    @Test func baseAnchorsOfMaskRCNN() {
        let g = AnchorGenerator.maskRCNN
        #expect(g.levels == 5 && g.anchorsPerCell == 3)
        #expect(
            g.baseAnchors(level: 0) == [
                box(-22.627417, -11.313708, 22.627417, 11.313708), box(-16, -16, 16, 16),
                box(-11.313708, -22.627417, 11.313708, 22.627417),
            ])
        #expect(g.baseAnchors(level: 4)[1] == box(-256, -256, 256, 256))
        // Powers of two scale exactly: stride 16 is four times stride 4.
        #expect(g.baseAnchors(level: 2)[0] == box(-22.627417 * 4, -11.313708 * 4, 22.627417 * 4, 11.313708 * 4))
    }

    /// Anchor (y * width + x) * A + a is base anchor a shifted by (x, y) * stride.
    @Test func gridAnchorsAreCellMajor() {
        let g = AnchorGenerator.maskRCNN
        let anchors = g.anchors(level: 1, height: 2, width: 3)
        #expect(anchors.count == 2 * 3 * 3)
        #expect(anchors[0] == g.baseAnchors(level: 1)[0])
        #expect(anchors[(1 * 3 + 2) * 3 + 1] == box(-32 + 16, -32 + 8, 32 + 16, 32 + 8))
        #expect(
            anchors[(0 * 3 + 1) * 3 + 2] == box(-11.313708 * 2 + 8, -22.627417 * 2, 11.313708 * 2 + 8, 22.627417 * 2))
        let offset = AnchorGenerator(strides: [16], ratios: [1], scales: [1], centerOffset: 0.5)
        #expect(offset.anchors(level: 0, height: 1, width: 2) == [box(0, 0, 16, 16), box(16, 0, 32, 16)])
    }

    /// A 40 x 50 padded image on a stride-16 map of 4 x 5: ceil(40/16) = 3 rows and
    /// ceil(50/16) = 4 columns are real; the last row and column are batch padding.
    @Test func validFlagsMarkPaddingCells() {
        let g = AnchorGenerator.maskRCNN
        let flags = g.validFlags(level: 2, height: 4, width: 5, paddedHeight: 40, paddedWidth: 50)
        #expect(flags.count == 4 * 5 * 3)
        #expect(flags.filter { $0 }.count == 3 * 4 * 3)
        func cell(_ y: Int, _ x: Int) -> [Bool] { Array(flags[(y * 5 + x) * 3..<(y * 5 + x) * 3 + 3]) }
        #expect(cell(2, 3) == [true, true, true])
        #expect(cell(3, 0) == [false, false, false])
        #expect(cell(0, 4) == [false, false, false])
        #expect(g.validFlags(level: 0, height: 2, width: 2, paddedHeight: 800, paddedWidth: 800).allSatisfy { $0 })
    }

    // MARK: Delta coder

    /// Prior [0, 0, 10, 10] to target [1, 2, 11, 14]: centres (5, 5) -> (6, 8), sizes
    /// 10x10 -> 10x12, so (0.1, 0.3, log 1, log 1.2 = 0.18232161); divided by the
    /// RoI head's stds (0.1, 0.1, 0.2, 0.2): (1, 3, 0, 0.91160804).
    @Test func encodeKnownValues() {
        let prior = [box(0, 0, 10, 10)]
        let target = [box(1, 2, 11, 14)]
        let rpn = DeltaXYWHBBoxCoder.rpn.encode(prior, to: target)
        let rcnn = DeltaXYWHBBoxCoder.rcnn.encode(prior, to: target)
        for (a, b) in zip(rpn, [0.1, 0.3, 0, 0.18232161] as [Float]) { #expect(abs(a - b) <= 1e-7) }
        for (a, b) in zip(rcnn, [1, 3, 0, 0.91160804] as [Float]) { #expect(abs(a - b) <= 1e-6) }
    }

    /// mmdet's `delta2bbox` docstring example (max_shape 32 x 32), printed to 4 decimals.
    @Test func decodeMatchesTheMMDetExample() {
        let rois = [box(0, 0, 1, 1), box(0, 0, 1, 1), box(0, 0, 1, 1), box(5, 5, 5, 5)]
        let deltas: [Float] = [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 2, -1, 0.7, -1.9, -0.5, 0.3]
        let decoded = DeltaXYWHBBoxCoder.rpn.decode(rois, deltas: deltas, maxShape: (height: 32, width: 32))
        expectClose(
            decoded,
            [box(0, 0, 1, 1), box(0.1409, 0.1409, 2.8591, 2.8591), box(0, 0.3161, 4.1945, 0.6839), box(5, 5, 5, 5)],
            tolerance: 6e-5)
    }

    @Test func decodeInvertsEncode() {
        var rng = RandomGenerator(seed: 11)
        func randomBox() -> BoundingBox {
            let x = rng.nextUniform() * 200
            let y = rng.nextUniform() * 200
            return box(x, y, x + 4 + rng.nextUniform() * 150, y + 4 + rng.nextUniform() * 150)
        }
        let priors = (0..<50).map { _ in randomBox() }
        let targets = (0..<50).map { _ in randomBox() }
        for coder in [DeltaXYWHBBoxCoder.rpn, .rcnn] {
            let back = coder.decode(priors, deltas: coder.encode(priors, to: targets))
            expectClose(back, targets, tolerance: 1e-3)
        }
    }

    /// Size deltas are clamped to |log(16/1000)| = 4.1351666: at most 62.5 times the prior.
    /// Several boxes per prior (class-specific deltas) come out prior by prior.
    @Test func decodeClampsSizeAndHandlesPerClassDeltas() {
        let prior = [box(0, 0, 2, 2)]
        let huge = DeltaXYWHBBoxCoder.rpn.decode(prior, deltas: [0, 0, 10, -10])[0]
        #expect(abs(huge.width - 2 * expf(4.1351666)) <= 1e-3)
        #expect(abs(huge.height - 2 * expf(-4.1351666)) <= 1e-6)
        let clipped = DeltaXYWHBBoxCoder.rpn.decode(prior, deltas: [0, 0, 10, 0], maxShape: (height: 5, width: 7))[0]
        #expect(clipped == box(0, 0, 7, 2))
        let two = [box(0, 0, 10, 10), box(10, 10, 30, 30)]
        let perClass: [Float] = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0]
        let decoded = DeltaXYWHBBoxCoder.rpn.decode(two, deltas: perClass)
        #expect(decoded == [box(0, 0, 10, 10), box(10, 0, 20, 10), box(10, 10, 30, 30), box(10, -10, 30, 10)])
        let rcnn = DeltaXYWHBBoxCoder.rcnn.decode([box(0, 0, 10, 10)], deltas: [1, 0, 0, 0])
        #expect(rcnn == [box(1, 0, 11, 10)])
        #expect(DeltaXYWHBBoxCoder.rcnn.decode([], deltas: []).isEmpty)
    }
}
