import Foundation
import MixKit
import MixmaePluginHost
import TestSupport
import Testing

/// The in-tree dense-prediction plugins (fpn, fcos, upernet), loaded from their
/// built libraries: declared and emitted shapes, tensor names, inference
/// post-processing, losses, configuration errors, and `plugins check`.
extension InProcess {
    @Suite struct DensePluginTests {
        let directory: TemporaryFolder
        let catalog: PluginCatalog

        init() throws {
            directory = try TemporaryFolder()
            catalog = try PluginTests.catalog(
                ["MixFPN", "MixFCOS", "MixUperNet"].map { buildDirectory + "/lib\($0).so" }, in: directory)
        }

        func build(_ id: String, _ values: [String: ParameterValue], _ context: BuildContext) throws -> Module {
            let descriptor = try #require(catalog.component(id)).descriptor
            var params = Parameters(defaultsOf: descriptor.parameters)
            for (key, value) in values { params[key] = value }
            var context = context
            context.rng = RandomSource(seed: 0)
            return try descriptor.build(params, context)
        }

        /// Random feature maps of a `size` x `size` image for the given specs.
        func features(_ specs: [FeatureSpec], size: Int, batch: Int = 2) -> [FeatureMap] {
            var rng = RandomGenerator(seed: 3)
            return specs.map { spec in
                let side = max((size + spec.stride - 1) / spec.stride, 1)
                return FeatureMap(
                    tensor: Tensor.randomNormal([batch, side * side, spec.channels], using: &rng), height: side,
                    width: side, stride: spec.stride)
            }
        }

        static let swinMaps = [
            FeatureSpec(stride: 4, channels: 4), FeatureSpec(stride: 8, channels: 6),
            FeatureSpec(stride: 16, channels: 8), FeatureSpec(stride: 32, channels: 10),
        ]

        // MARK: fpn

        @Test func fpnEmitsWhatItDeclares() throws {
            let context = BuildContext(inputs: Self.swinMaps, imageSize: 64)
            for extra in ["on_output", "on_input", "on_lateral", "none"] {
                let neck = try #require(
                    try build("fpn", ["out_channels": .int(8), "add_extra_convs": .string(extra)], context) as? Neck)
                #expect(neck.outputs == [8, 16, 32, 64, 128].map { FeatureSpec(stride: $0, channels: 8) }, "\(extra)")
                let outs = neck(features(Self.swinMaps, size: 64))
                #expect(outs.map(\.stride) == [8, 16, 32, 64, 128])
                #expect(outs.map(\.height) == [8, 4, 2, 1, 1] && outs.map(\.width) == [8, 4, 2, 1, 1])
                #expect(outs.map(\.tensor.shape) == [[2, 64, 8], [2, 16, 8], [2, 4, 8], [2, 1, 8], [2, 1, 8]])
                let names = Dictionary(uniqueKeysWithValues: neck.namedParameters().map { ($0.0, $0.1.shape) })
                #expect(names["lateral_convs.0.conv.weight"] == [8, 6, 1, 1], "\(extra)")
                #expect(names["fpn_convs.2.conv.weight"] == [8, 8, 3, 3], "\(extra)")
                switch extra {
                case "none": #expect(names["fpn_convs.3.conv.weight"] == nil)
                case "on_input": #expect(names["fpn_convs.3.conv.weight"] == [8, 10, 3, 3])
                default: #expect(names["fpn_convs.3.conv.weight"] == [8, 8, 3, 3])
                }
                if extra == "none" {
                    // P6 is P5 subsampled (max-pool with kernel 1, stride 2): its one pixel is P5's first.
                    #expect(Array(outs[3].tensor.scalars[0..<8]) == Array(outs[2].tensor.scalars[0..<8]))
                }
            }
            // All four maps, no extra level.
            let all = try #require(
                try build("fpn", ["out_channels": .int(8), "start_level": .int(0), "num_outs": .int(4)], context)
                    as? Neck)
            #expect(all.outputs.map(\.stride) == [4, 8, 16, 32])
            #expect(all(features(Self.swinMaps, size: 64)).map(\.height) == [16, 8, 4, 2])
        }

        @Test func fpnRejectsParametersThatDoNotFitTheBackbone() throws {
            let context = BuildContext(inputs: Self.swinMaps, imageSize: 64)
            #expect {
                _ = try build("fpn", ["num_outs": .int(2)], context)
            } throws: { "\($0)".contains("num_outs") && "\($0)".contains("3 maps used") }
            #expect {
                _ = try build("fpn", ["start_level": .int(4)], context)
            } throws: { "\($0)".contains("start_level") }
        }

        // MARK: fcos

        static let pyramid = [8, 16, 32, 64, 128].map { FeatureSpec(stride: $0, channels: 8) }

        func fcos(_ values: [String: ParameterValue] = [:]) throws -> DetectionHead {
            let base: [String: ParameterValue] = [
                "feat_channels": .int(8), "stacked_convs": .int(1), "num_groups": .int(2),
                "regress_ranges": .floatList([32, 64, 128, 256]),
            ]
            let module = try build(
                "fcos", base.merging(values) { $1 },
                BuildContext(inputs: Self.pyramid, imageSize: 64, numClasses: 3))
            return try #require(module as? DetectionHead)
        }

        @Test func fcosHasMMDetNamesAndThePriorInit() throws {
            let head = try fcos()
            #expect(head.classCount == 3)
            let names = Dictionary(uniqueKeysWithValues: head.namedParameters().map { ($0.0, $0.1) })
            #expect(names["cls_convs.0.conv.weight"]?.shape == [8, 8, 3, 3])
            #expect(names["cls_convs.0.gn.weight"]?.shape == [8])
            #expect(names["reg_convs.0.conv.weight"]?.shape == [8, 8, 3, 3])
            #expect(names["conv_cls.weight"]?.shape == [3, 8, 3, 3])
            #expect(names["conv_reg.weight"]?.shape == [4, 8, 3, 3])
            #expect(names["conv_centerness.weight"]?.shape == [1, 8, 3, 3])
            #expect(names["scales.4.scale"]?.shape == [])
            let bias = try #require(names["conv_cls.bias"]).scalars
            #expect(bias.allSatisfy { abs($0 - -Float(Foundation.log(99.0))) < 1e-5 })
        }

        @Test func fcosPredictionsAreThresholdedClippedSortedAndCapped() throws {
            let head = try fcos()
            head.train(false)
            let maps = features(Self.pyramid, size: 64)
            let sizes = [ImageSize(height: 64, width: 48), ImageSize(height: 40, width: 64)]
            let settings = DetectionSettings(preNMSTopK: 50, scoreThreshold: 0, iouThreshold: 0.5, maxPerImage: 7)
            let found = head.predict(maps, imageSizes: sizes, settings: settings)
            #expect(found.count == 2)
            for (image, detections) in found.enumerated() {
                #expect(detections.count == 7)
                #expect(zip(detections, detections.dropFirst()).allSatisfy { $0.score >= $1.score })
                for d in detections {
                    #expect(d.label >= 0 && d.label < 3)
                    #expect(d.box.x1 >= 0 && d.box.y1 >= 0 && d.box.width > 0 && d.box.height > 0)
                    #expect(d.box.x2 <= Float(sizes[image].width) && d.box.y2 <= Float(sizes[image].height))
                }
                // Per-class NMS: no two kept boxes of a class overlap above the threshold.
                for (i, a) in detections.enumerated() {
                    for b in detections[(i + 1)...] where a.label == b.label { #expect(a.box.iou(b.box) <= 0.5) }
                }
            }
            // At the prior (p = 0.01) no score reaches sqrt(0.01 * 1).
            let strict = DetectionSettings(scoreThreshold: 0.1)
            let none = head.predict(maps, imageSizes: sizes, settings: strict)
            #expect(none.count == 2 && none.allSatisfy { $0.isEmpty })
        }

        @Test func fcosLossWithAndWithoutObjects() throws {
            let head = try fcos()
            let maps = features(Self.pyramid, size: 64)
            let empty = head.loss(
                maps, targets: [DetectionTarget(boxes: [], labels: []), DetectionTarget(boxes: [], labels: [])])
            #expect(empty.terms["num_pos"] == 0 && empty.terms["loss_bbox"] == 0 && empty.terms["loss_centerness"] == 0)
            #expect(empty.total.item().isFinite && empty.total.item() > 0)
            let boxes = [
                DetectionTarget(
                    boxes: [BoundingBox(x1: 4, y1: 6, x2: 20, y2: 30), BoundingBox(x1: 30, y1: 10, x2: 62, y2: 50)],
                    labels: [0, 2]),
                DetectionTarget(boxes: [BoundingBox(x1: 10, y1: 10, x2: 26, y2: 22)], labels: [1]),
            ]
            let loss = head.loss(maps, targets: boxes)
            #expect((loss.terms["num_pos"] ?? 0) > 0)
            for key in ["loss_cls", "loss_bbox", "loss_centerness"] {
                #expect(loss.terms[key].map { $0.isFinite && $0 > 0 } == true, "\(key)")
            }
            let sum =
                (loss.terms["loss_cls"] ?? 0) + (loss.terms["loss_bbox"] ?? 0) + (loss.terms["loss_centerness"] ?? 0)
            #expect(abs(Double(loss.total.item()) - sum) < 1e-4)
        }

        @Test func fcosRejectsRangesThatDoNotFitTheLevels() throws {
            #expect {
                _ = try fcos(["regress_ranges": .floatList([64, 128])])
            } throws: { "\($0)".contains("regress_ranges") && "\($0)".contains("give 4") }
            #expect {
                _ = try build("fcos", [:], BuildContext(inputs: Self.swinMaps, imageSize: 64, numClasses: 3))
            } throws: { "\($0)".contains("same channels") }
        }

        // MARK: upernet

        func upernet(_ values: [String: ParameterValue] = [:]) throws -> SegmentationHead {
            let base: [String: ParameterValue] = [
                "channels": .int(8), "num_groups": .int(2), "aux_channels": .int(4),
            ]
            let module = try build(
                "upernet", base.merging(values) { $1 },
                BuildContext(inputs: Self.swinMaps, imageSize: 64, numClasses: 5))
            return try #require(module as? SegmentationHead)
        }

        @Test func upernetLogitsAtStrideFourAndItsLosses() throws {
            let head = try upernet()
            head.train(false)
            let maps = features(Self.swinMaps, size: 64)
            #expect(head.logits(maps).shape == [2, 5, 16, 16])
            let names = Set(head.namedParameters().map(\.0))
            for name in [
                "psp_modules.3.conv.weight", "bottleneck.gn.weight", "lateral_convs.2.conv.weight",
                "fpn_convs.0.gn.bias", "fpn_bottleneck.conv.weight", "conv_seg.weight",
                "auxiliary_head.convs.0.conv.weight", "auxiliary_head.conv_seg.bias",
            ] {
                #expect(names.contains(name), "\(name)")
            }
            // The classifiers start near 0, so both cross-entropies start near log(5).
            let labels = SegmentationLabels(
                values: (0..<(2 * 64 * 64)).map { $0 % 7 == 0 ? 255 : $0 % 5 }, batch: 2, height: 64, width: 64)
            let loss = head.loss(maps, labels: labels)
            let main = try #require(loss.terms["loss_ce"])
            let aux = try #require(loss.terms["aux_loss_ce"])
            #expect(abs(main - Foundation.log(5.0)) < 0.05)
            #expect(abs(aux - 0.4 * Foundation.log(5.0)) < 0.05)
            #expect(abs(Double(loss.total.item()) - main - aux) < 1e-4)

            let plain = try upernet(["auxiliary_head": .bool(false), "pool_scales": .intList([1, 3])])
            #expect(plain.loss(maps, labels: labels).terms["aux_loss_ce"] == nil)
            #expect(!plain.namedParameters().contains { $0.0.hasPrefix("auxiliary_head") })
            #expect(plain.namedParameters().contains { $0.0 == "psp_modules.1.conv.weight" })
        }

        @Test func upernetNeedsSeveralStages() throws {
            #expect {
                _ = try build(
                    "upernet", [:],
                    BuildContext(inputs: [FeatureSpec(stride: 32, channels: 16)], imageSize: 64, numClasses: 5))
            } throws: { "\($0)".contains("out_indices") }
        }

        // MARK: plugins check

        @Test func everyDensePluginPassesTheCheck() throws {
            for id in ["fpn", "fcos", "upernet"] {
                let report = ComponentCheck().run(try #require(catalog.component(id)))
                #expect(report.passed, "\(id): \(report.failures)")
                #expect(report.samples.filter(\.isConclusive).count >= 4, "\(id)")
                #expect(report.withoutGradient.isEmpty, "\(id): \(report.withoutGradient)")
            }
        }
    }
}
