import Foundation
import MixKit
import MixmaeRuns
import TestSupport
import Testing

extension InProcess {
    /// Backbones at any input size: the out-of-tree PVT declares it and takes non-square
    /// images, finetunes from its checkpoint at other sizes than its `img_size`, and the host
    /// refuses a dense task on a backbone that does not declare it, at `model.backbone.name`.
    @Suite struct OutOfTreeAnySizeTests {
        func buildPVT(_ values: [String: ParameterValue]) throws -> Module {
            try OutOfTreePluginTests.buildIfNeeded()
            let dir = try TemporaryFolder()
            let pvt = try catalog([OutOfTreePluginTests.library], in: dir).component("pvt", kind: .backbone)
            var params = Parameters(defaultsOf: pvt.descriptor.parameters)
            for (key, value) in values { params[key] = value }
            return try pvt.descriptor.build(params, BuildContext(rng: RandomSource(seed: 9)))
        }

        /// Grids round up at every stride (padded convolutions), the features do not depend on
        /// `img_size` (PVT v2 has no position table), and images smaller than a stage's
        /// reduction ratio still work.
        @Test(.timeLimit(.minutes(20))) func pvtDeclaresAnySizeAndTakesNonSquareImages() throws {
            let small = try buildPVT(["img_size": .int(64), "depths": .intList([1, 1, 1, 1])])
            small.train(false)
            let backbone = try #require(small as? Backbone)
            #expect(backbone.capabilities.arbitraryInputSize)
            var rng = RandomGenerator(seed: 8)
            let images = Tensor.randomNormal([2, 3, 45, 70], using: &rng)
            let maps = withNoGrad { backbone.features(images, mixing: nil) }
            #expect(maps.map(\.height) == [12, 6, 3, 2] && maps.map(\.width) == [18, 9, 5, 3])
            for map in maps {
                #expect(map.tensor.shape == [2, map.height * map.width, map.channels])
                let finite = map.tensor.scalars.allSatisfy { $0.isFinite }
                #expect(finite)
            }
            // The same weights in a PVT defined for 96 px give the same features.
            let large = try buildPVT(["img_size": .int(96), "depths": .intList([1, 1, 1, 1])])
            large.train(false)
            try large.load(stateDict: small.stateDict())
            let again = withNoGrad { (large as! Backbone).features(images, mixing: nil) }
            for (a, b) in zip(maps, again) { #expect(a.tensor.scalars == b.tensor.scalars) }
            // 20x36 px: the first stage's 5-row grid is shorter than its reduction ratio 8.
            let tiny = withNoGrad { backbone.features(Tensor.randomNormal([1, 3, 20, 36], using: &rng), mixing: nil) }
            #expect(tiny.map(\.height) == [5, 3, 2, 1] && tiny.map(\.width) == [9, 5, 3, 2])
            let finite = tiny.allSatisfy { $0.tensor.scalars.allSatisfy { $0.isFinite } }
            #expect(finite)
        }

        /// MixMAE-pretrains PVT at 64 px (run 1), then finetunes segmentation from its checkpoint
        /// on 48 px crops of non-square images, evaluated at the images' own sizes (run 2).
        @Test(.timeLimit(.minutes(30))) func aSegmentationFinetuneAtOtherSizesStartsFromAPVTCheckpoint() throws {
            try OutOfTreePluginTests.buildIfNeeded()
            let dir = try TemporaryFolder()
            let registry = try dir.registry([
                buildDirectory + "/libMixViTDecoder.so", buildDirectory + "/libMixReconstruction.so",
                buildDirectory + "/libMixUperNet.so", OutOfTreePluginTests.library,
            ])
            let environment = ["MIXMAE_HOME": dir.path + "/home", "MIXMAE_REGISTRY": registry]
            let synth = try runMixmae(
                [
                    "data", "synth", "--out", "data", "--images", "64", "--size", "64", "--classes", "3",
                    "--dense-sizes", "72x56,56x72",
                ], in: dir.path, environment: environment)
            #expect(synth.status == 0, "\(synth.stderr)")
            let pretrain = try runMixmae(
                [
                    "train", OutOfTreePluginTests.package + "/recipes/pretrain-pvt-small64.yaml",
                    "--set", "schedule.epochs=1", "--set", "data.batch_size=16", "--set", "log.pictures=0",
                ], in: dir.path, environment: environment)
            #expect(pretrain.status == 0, "\(pretrain.stdout)\(pretrain.stderr)")
            try dir.write(
                "segment.yaml",
                """
                base: \(packageRoot)/recipes/base/segment.yaml
                data: {root: data/segmentation, img_size: 48, batch_size: 8, num_workers: 1}
                segment: {num_classes: 4, reduce_zero_label: false, scale: [72, 56], mode: whole}
                optim: {base_lr: 1.6e-2}
                schedule: {epochs: 1, warmup_epochs: 0.2}
                checkpoint: {every: 0}
                log: {every: 2, pictures: 2}
                init: {weights: "run:1"}
                model:
                  backbone: {name: pvt, img_size: 64}
                  head: {name: upernet, channels: 32, num_groups: 8, aux_channels: 16}
                """)
            let finetune = try runMixmae(["train", "segment.yaml"], in: dir.path, environment: environment)
            #expect(finetune.status == 0, "\(finetune.stdout)\(finetune.stderr)")
            let output = finetune.stdout + finetune.stderr
            #expect(output.contains("initialised") && output.contains("backbone tensors"), "\(output)")
            let runs = try RunRegistry(home: URL(fileURLWithPath: dir.path + "/home"))
            #expect(try runs.run(2)?.status == .finished)
            #expect(try runs.metrics(ofRun: 2, named: "mIoU").count == 1)
        }

        /// Detection and segmentation feed images of their own sizes: a backbone that takes
        /// only `img_size` squares (the FixedSize fixture) is refused at `model.backbone.name`.
        @Test(.timeLimit(.minutes(20))) func aDenseTaskRefusesABackboneWithoutAnySizeAtTheRecipeKey() throws {
            let dir = try TemporaryFolder()
            let registry = try dir.registry([
                fixture("FixedSize"), buildDirectory + "/libMixFPN.so", buildDirectory + "/libMixFCOS.so",
                buildDirectory + "/libMixUperNet.so",
            ])
            let environment = ["MIXMAE_HOME": dir.path + "/home", "MIXMAE_REGISTRY": registry]
            let synth = try runMixmae(
                ["data", "synth", "--out", "data", "--images", "40", "--size", "64"], in: dir.path,
                environment: environment)
            #expect(synth.status == 0, "\(synth.stderr)")
            let backbone = "{name: fixed-size-backbone, img_size: 64}"
            try dir.write(
                "detect.yaml",
                """
                base: \(packageRoot)/recipes/base/detect.yaml
                data: {root: data/detection, img_size: 64, batch_size: 4}
                detect: {train_ann: train.json, train_img: train/images, val_ann: val.json, val_img: val/images,
                         short_sides: [64], max_size: 64, test_short_side: 64}
                model:
                  backbone: \(backbone)
                  neck: {name: fpn, out_channels: 16, start_level: 0}
                  head: {name: fcos, feat_channels: 16, stacked_convs: 1, num_groups: 4,
                         regress_ranges: [32, 64, 128, 256]}
                """)
            try dir.write(
                "segment.yaml",
                """
                base: \(packageRoot)/recipes/base/segment.yaml
                data: {root: data/segmentation, img_size: 64, batch_size: 4}
                segment: {num_classes: 7, reduce_zero_label: false, scale: [64, 64]}
                model:
                  backbone: \(backbone)
                  head: {name: upernet, channels: 16, num_groups: 4, aux_channels: 8}
                """)
            for (recipe, task) in [("detect.yaml", "detection"), ("segment.yaml", "segmentation")] {
                let check = try runMixmae(["recipe", "check", recipe], in: dir.path, environment: environment)
                #expect(check.status == 0, "\(recipe) passes the recipe checks: \(check.stderr)")
                let result = try runMixmae(["train", recipe], in: dir.path, environment: environment)
                #expect(result.status == 1, "\(recipe): \(result.status)")
                let message = result.stderr
                #expect(message.hasPrefix("\(recipe):"), "file:line:column first: \(message)")
                #expect(message.contains("model.backbone.name"), "\(message)")
                #expect(
                    message.contains(
                        "\(task) feeds images of their own sizes (resized keeping their aspect, padded per batch) but "
                            + "backbone 'fixed-size-backbone' takes only 64x64 inputs: choose a backbone that takes any "
                            + "size"),
                    "\(message)")
                #expect(!FileManager.default.fileExists(atPath: dir.path + "/home/runs/1"), "no run is registered")
            }
        }
    }
}
