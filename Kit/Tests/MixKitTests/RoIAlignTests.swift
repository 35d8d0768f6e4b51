import Foundation
import MixKit
import MixKitTesting
import Testing

/// RoIAlign against torchvision (`../shared/fixtures/roi_align`), hand-computed
/// values, finite differences, and mmdet's RoI-to-level mapping.
@Suite struct RoIAlignTests {
    static let fixture = SharedInputs.path + "/fixtures/roi_align/roi_align.safetensors"

    @Test(arguments: ["s4_7x7_r0", "s8_14x14_r2"])
    func matchesTorchvisionForwardAndBackward(case name: String) throws {
        let file = try SafeTensorsFile(path: Self.fixture)
        // (spatial scale, output size, sampling ratio), stored as F64.
        let params = try file.tensor("\(name).params").scalars
        let features = try file.tensor("\(name).features").asParameter()
        let rois = try file.tensor("\(name).rois")
        let align = RoIAlign(outputSize: Int(params[1]), spatialScale: params[0], samplingRatio: Int(params[2]))
        let out = align(features, rois: rois)
        let expected = try file.tensor("\(name).expected")
        #expect(out.shape == expected.shape)
        let scale = expected.scalars.map(abs).max() ?? 1
        #expect(maxAbsDiff(out, expected) <= 1e-6 * max(scale, 1), "forward differs by \(maxAbsDiff(out, expected))")
        out.backward(try file.tensor("\(name).out_weight"))
        let grad = try #require(features.grad)
        let expectedGrad = try file.tensor("\(name).expected_grad")
        #expect(grad.shape == expectedGrad.shape)
        let gradScale = expectedGrad.scalars.map(abs).max() ?? 1
        #expect(
            maxAbsDiff(grad, expectedGrad) <= 1e-6 * max(gradScale, 1),
            "backward differs by \(maxAbsDiff(grad, expectedGrad))")
    }

    /// A ramp `f(y, x) = x` on a 4x4 map, the RoI covering it (aligned: from
    /// -0.5 to 3.5): 2 samples per bin per axis at x = 0, 1 (bin 0) and 2, 3
    /// (bin 1), so the bins average to 0.5 and 2.5. A RoI far outside reads 0.
    @Test func rampByHand() {
        let ramp = Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map { Float($0 % 4) })
        let rois = Tensor([[0, 0, 0, 4, 4], [0, 50, 50, 60, 60]])
        let out = RoIAlign(outputSize: 2, spatialScale: 1)(ramp, rois: rois)
        #expect(out.shape == [2, 1, 2, 2])
        #expect(out.scalars == [0.5, 2.5, 0.5, 2.5, 0, 0, 0, 0])
        // Not aligned, one sample per bin at the bin centres x = 1 and 3.
        let plain = RoIAlign(outputSize: 2, spatialScale: 1, samplingRatio: 1, aligned: false)(ramp, rois: rois)
        #expect(Array(plain.scalars.prefix(4)) == [1, 3, 1, 3])
        // An inverted box samples nothing.
        let inverted = RoIAlign(outputSize: 2, spatialScale: 1)(ramp, rois: Tensor([[0, 3, 3, 1, 1]]))
        #expect(inverted.scalars == [0, 0, 0, 0])
        // No RoIs: an empty result of the right shape.
        let none = RoIAlign(outputSize: 7, spatialScale: 1)(ramp, rois: Tensor(shape: [0, 5], scalars: []))
        #expect(none.shape == [0, 1, 7, 7])
    }

    @Test func gradientsMatchFiniteDifferences() {
        let features = randn([2, 3, 9, 11], seed: 3)
        let rois = Tensor([
            [0, 3.3, 2.1, 30.7, 20.2], [1, -6, -4, 12, 40.5], [1, 20, 10, 47, 38], [0, 10, 9, 11, 9.5],
        ])
        for ratio in [0, 2] {
            GradientCheck().expect([features]) { inputs in
                RoIAlign(outputSize: 3, spatialScale: 0.25, samplingRatio: ratio)(inputs[0], rois: rois)
            }
        }
    }

    /// Two levels: the extractor pools each RoI from its level and the gradient
    /// reaches both maps; the result equals single-level RoIAlign per RoI.
    @Test func extractorPoolsEachRoIFromItsLevel() {
        let fine = randn([2, 4, 16, 16], seed: 5)
        let coarse = randn([2, 4, 8, 8], seed: 6)
        // sqrt(w h): 40 (level 0), 150 (level 1), 10 (level 0), 60x60 -> 60 (level 0), 120 (level 1).
        let rois = Tensor([
            [0, 4, 4, 44, 44], [1, 0, 0, 150, 150], [1, 20, 20, 30, 30], [0, 2, 2, 62, 62], [1, 0, 4, 120, 124],
        ])
        let extractor = RoIExtractor(featureStrides: [4, 8], outputSize: 3)
        #expect(extractor.levels(rois) == [0, 1, 0, 0, 1])
        let pooled = extractor([fine, coarse], rois: rois)
        #expect(pooled.shape == [5, 4, 3, 3])
        let maps = [fine, coarse]
        for (i, level) in extractor.levels(rois).enumerated() {
            let one = Tensor(shape: [1, 5], scalars: Array(rois.scalars[5 * i..<5 * i + 5]))
            let alone = RoIAlign(outputSize: 3, spatialScale: 1 / Float(4 << level))(maps[level], rois: one)
            #expect(Array(pooled.scalars[36 * i..<36 * (i + 1)]) == alone.scalars, "roi \(i)")
        }
        GradientCheck().expect([fine, coarse]) { inputs in extractor(inputs, rois: rois) }
    }

    /// The checking initializer takes the finest levels of a neck's maps and refuses maps
    /// that do not fit, naming the parameter (`num_levels`) or the head's slot.
    @Test func extractorFromANecksMapsChecksLevelsChannelsAndStrides() throws {
        let fpn = [4, 8, 16, 32, 64].map { FeatureSpec(stride: $0, channels: 8) }
        let extractor = try RoIExtractor(levels: 4, of: fpn, outputSize: 7, samplingRatio: 2, head: "roi_box")
        #expect(extractor == RoIExtractor(featureStrides: [4, 8, 16, 32], outputSize: 7, samplingRatio: 2))
        func refusal(_ levels: Int, _ inputs: [FeatureSpec]) -> ComponentConfigurationError? {
            do {
                _ = try RoIExtractor(levels: levels, of: inputs, outputSize: 7, head: "roi_mask")
                return nil
            } catch {
                return error as? ComponentConfigurationError
            }
        }
        let tooFew = try #require(refusal(6, fpn))
        #expect(tooFew.parameter == "num_levels")
        #expect(
            tooFew.problem
                == "6 levels but the neck emits 5 maps (strides [4, 8, 16, 32, 64]): lower num_levels or raise the "
                + "neck's num_outs")
        #expect(refusal(0, fpn)?.parameter == "num_levels")
        let swin = [(4, 96), (8, 192), (16, 384), (32, 768)].map { FeatureSpec(stride: $0, channels: $1) }
        let mixed = try #require(refusal(2, swin))
        #expect(mixed.parameter == "roi_mask")
        #expect(
            mixed.problem
                == "pools every level into one head, so the maps need the same channels; got [96, 192, 384, 768] "
                + "(use an fpn neck)")
        // Only the levels used must agree: a coarser map of other channels is not pooled.
        #expect(refusal(1, swin) == nil)
        let coarseFirst = [32, 16].map { FeatureSpec(stride: $0, channels: 8) }
        #expect(refusal(2, coarseFirst)?.problem.contains("got [32, 16]") == true)
        #expect(refusal(1, [FeatureSpec(stride: 0, channels: 8)])?.parameter == "roi_mask")
    }

    /// mmdet's `map_roi_levels` with finest scale 56: floor(log2(s / 56 + 1e-6)), clamped.
    @Test func levelMappingFollowsMMDet() {
        func level(_ side: Float) -> Int { RoIExtractor.level(width: side, height: side, levels: 4) }
        #expect(level(1) == 0)
        #expect(level(111.9) == 0)
        #expect(level(112) == 1)
        #expect(level(223) == 1)
        #expect(level(224) == 2)
        #expect(level(448) == 3)
        #expect(level(5000) == 3)
        #expect(RoIExtractor.level(width: 0, height: 10, levels: 4) == 0)
        #expect(RoIExtractor.level(width: -5, height: 10, levels: 4) == 0)
        #expect(RoIExtractor.level(width: 100, height: 400, levels: 4) == 1)  // sqrt 200: log2(3.57) = 1.8
    }

    /// `mixmae bench roi-align`'s workload runs (tiny here) and counts its samples.
    @Test func benchmarkRunsTheHeadsWorkloads() {
        let results = OpsBenchmark.roiAlign(imageSize: 64, channels: 2, repetitions: 1)
        #expect(results.map(\.name) == OpsBenchmark.maskRCNNRoICases.map(\.name))
        for r in results {
            #expect(r.samples >= r.rois * r.outputSize * r.outputSize * 2)
            #expect(
                r.forwardSeconds > 0 && r.forwardSeconds.isFinite && r.backwardSeconds > 0 && r.backwardSeconds.isFinite
            )
        }
    }

    @Test func roisFromBoxesOfABatch() {
        let a = BoundingBox(x1: 1, y1: 2, x2: 3, y2: 4)
        let b = BoundingBox(x1: 5, y1: 6, x2: 7, y2: 8)
        let rois = RoIAlign.rois([[a], [], [b, a]])
        #expect(rois.shape == [3, 5])
        #expect(rois.scalars == [0, 1, 2, 3, 4, 2, 5, 6, 7, 8, 2, 1, 2, 3, 4])
    }
}
