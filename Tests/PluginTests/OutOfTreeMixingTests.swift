import Foundation
import MixKit
import MixmaeRuns
import TestSupport
import Testing

extension InProcess {
    /// MixMAE mixing in the out-of-tree PVT backbone, loaded into the host as a
    /// third-party plugin: no information crosses between the two source images
    /// of a mixed batch, misaligned configurations are refused, the plugin's own
    /// tests pass, and `mixmae train` pretrains it.
    @Suite struct OutOfTreeMixingTests {
        static let package = OutOfTreePluginTests.package

        /// `pvt` from a registry that lists only the example, built with `values` over its defaults.
        func buildPVT(_ values: [String: ParameterValue]) throws -> Module {
            try OutOfTreePluginTests.buildIfNeeded()
            let dir = try TemporaryFolder()
            let pvt = try catalog([OutOfTreePluginTests.library], in: dir).component("pvt", kind: .backbone)
            var params = Parameters(defaultsOf: pvt.descriptor.parameters)
            for (key, value) in values { params[key] = value }
            return try pvt.descriptor.build(params, BuildContext())
        }

        /// Perturbs the pixels of one image inside the mask units of one value, and checks
        /// every stage's features: only the tokens that come from exactly those pixels (one
        /// row of the mixed batch, one group) may change, and they do.
        ///
        /// Image j's pixels in units where the mask is 0 are the mask-0 tokens of mixed row j;
        /// those where it is 1 are the mask-1 tokens of row B-1-j. So this also checks that
        /// no token reads the *hidden* pixels of its own image across a unit border (the
        /// overlapping 7x7 patch embedding would, were it not group-aware).
        @Test(.timeLimit(.minutes(20))) func noInformationCrossesBetweenTheTwoSourceImages() throws {
            let module = try buildPVT(["img_size": .int(96), "out_indices": .intList([0, 1, 2, 3])])
            module.train(false)
            let backbone = try #require(module as? Backbone)
            let (batch, size) = (4, 96)
            let mask = MixingMask(height: 3, width: 3, values: [0, 1, 1, 1, 0, 0, 0, 1, 0])
            var rng = RandomGenerator(seed: 5)
            let images = Tensor.randomNormal([batch, 3, size, size], using: &rng)
            let before = withNoGrad { backbone.features(images, mixing: mask) }
            #expect(before.map(\.height) == [24, 12, 6, 3])
            let pixelGroups = mask.upsampled(height: size, width: size)
            for (image, value) in [(1, UInt8(1)), (1, 0), (0, 0), (0, 1)] {
                let perturbed = images.copy()
                for channel in 0..<3 {
                    let plane = perturbed.data + (image * 3 + channel) * size * size
                    for p in 0..<(size * size) where pixelGroups[p] == value { plane[p] += 2 * rng.nextNormal() }
                }
                let after = withNoGrad { backbone.features(perturbed, mixing: mask) }
                let changedRow = value == 0 ? image : batch - 1 - image
                for (stage, (old, new)) in zip(before, after).enumerated() {
                    let groups = mask.upsampled(height: old.height, width: old.width)
                    let (tokens, channels) = (groups.count, old.channels)
                    var untouchedDifference: Float = 0
                    var (affected, changed) = (0, 0)
                    for row in 0..<batch {
                        for t in 0..<tokens {
                            let base = (row * tokens + t) * channels
                            var difference: Float = 0
                            for c in 0..<channels {
                                difference = max(difference, abs(new.tensor.data[base + c] - old.tensor.data[base + c]))
                            }
                            if row == changedRow && groups[t] == value {
                                affected += 1
                                if difference > 1e-3 { changed += 1 }
                            } else {
                                untouchedDifference = max(untouchedDifference, difference)
                            }
                        }
                    }
                    let what = "image \(image), mask-\(value) pixels, stage \(stage)"
                    #expect(untouchedDifference == 0, "\(what): other tokens moved by \(untouchedDifference)")
                    #expect(affected > 0 && changed == affected, "\(what): \(changed) of \(affected) tokens changed")
                }
            }
        }

        /// The same batch without mixing gives other features: the mask is not ignored,
        /// and a batch mixed with an all-zero mask is the plain batch.
        @Test(.timeLimit(.minutes(20))) func mixingChangesTheFeaturesAndAnEmptyMaskDoesNot() throws {
            let module = try buildPVT(["img_size": .int(64), "depths": .intList([1, 1, 1, 1])])
            module.train(false)
            let backbone = try #require(module as? Backbone)
            var rng = RandomGenerator(seed: 6)
            let images = Tensor.randomNormal([2, 3, 64, 64], using: &rng)
            let plain = withNoGrad { backbone.features(images, mixing: nil) }
            let none = withNoGrad {
                backbone.features(images, mixing: MixingMask(height: 2, width: 2, values: [0, 0, 0, 0]))
            }
            let mixed = withNoGrad {
                backbone.features(images, mixing: MixingMask(height: 2, width: 2, values: [0, 1, 1, 0]))
            }
            for (p, n) in zip(plain, none) { #expect(p.tensor.scalars == n.tensor.scalars) }
            #expect(plain.last!.tensor.scalars != mixed.last!.tensor.scalars)
        }

        @Test(.timeLimit(.minutes(20))) func keysThatStraddleMaskUnitsAreRefusedNamingTheParameter() throws {
            let error = #expect(throws: ComponentConfigurationError.self) {
                try buildPVT(["img_size": .int(128), "sr_ratios": .intList([8, 4, 2, 2])])
            }
            #expect(error?.parameter == "sr_ratios")
            #expect(
                error?.problem.hasPrefix("stage 3: a reduction ratio of 2 at stride 32 makes every key 64x64 pixels")
                    == true, "\(String(describing: error))")
            #expect(error?.problem.contains("use a ratio that divides 1") == true, "\(String(describing: error))")
            // Plain use of the same layout is allowed, and says it cannot mix.
            let plain = try buildPVT([
                "img_size": .int(128), "sr_ratios": .intList([8, 4, 2, 2]), "mixing": .bool(false),
            ])
            #expect((plain as? Backbone)?.capabilities.supportsMixing == false)
        }

        /// The plugin's own unit tests (group-aware convolutions against their
        /// definition and finite differences, attention masking, configuration
        /// checks), run with the package's own `swift test`.
        @Test(.timeLimit(.minutes(20))) func thePluginsOwnTestsPass() throws {
            let result = try runProgram(
                "/usr/bin/env", ["swift", "test", "--package-path", OutOfTreeMixingTests.package])
            let output = result.stdout + result.stderr
            #expect(result.status == 0, "\(output)")
            for suite in ["GroupAwareConvolutionTests", "MixingAttentionTests", "PVTConfigTests", "MaskTokenTests"] {
                #expect(output.contains("Suite \(suite) passed"), "\(output)")
            }
        }

        /// A real MixMAE pretraining run of PVT through `mixmae train`, with the shipped
        /// recipe on a synthetic dataset: the validation loss falls.
        @Test(.timeLimit(.minutes(30))) func mixmaeTrainPretrainsPVTAndTheLossFalls() throws {
            let (dir, environment) = try pvtPretrainingFolder(images: 320)
            let recipe = OutOfTreeMixingTests.package + "/recipes/pretrain-pvt-small64.yaml"
            let train = try runMixmae(["train", recipe], in: dir.path, environment: environment)
            #expect(train.status == 0, "\(train.stdout)\(train.stderr)")
            #expect(train.stdout.contains("run 1 (pretrain) finished"), "\(train.stdout)")
            let runs = try RunRegistry(home: URL(fileURLWithPath: dir.path + "/home"))
            let losses = try runs.metrics(ofRun: 1, named: "val_loss").map(\.value)
            #expect(losses.count == 8)
            // Per-patch normalised pixels start near a loss of 1.
            #expect((losses.first ?? 0) > 0.9, "val_loss \(losses)")
            #expect((losses.last ?? 1) < (losses.first ?? 0) - 0.05, "val_loss \(losses)")
        }

        /// `mask.mode: mask_token` (the SimMIM-style baseline) with PVT through `mixmae
        /// train`: the host accepts the backbone at the key, the run trains and its
        /// checkpoint holds the backbone's `encoder_mask_token` `[1, 1, embed_dims[0]]`.
        @Test(.timeLimit(.minutes(30))) func mixmaeTrainPretrainsPVTWithAMaskToken() throws {
            let (dir, environment) = try pvtPretrainingFolder(images: 160)
            let recipe = OutOfTreeMixingTests.package + "/recipes/pretrain-pvt-small64.yaml"
            let train = try runMixmae(
                ["train", recipe, "--set", "mask.mode=mask_token", "--set", "schedule.epochs=4"], in: dir.path,
                environment: environment)
            #expect(train.status == 0, "\(train.stdout)\(train.stderr)")
            #expect(train.stdout.contains("run 1 (pretrain) finished"), "\(train.stdout)")
            let checkpoint = try SafeTensorsFile(path: dir.path + "/home/runs/1/last.safetensors")
            #expect(try checkpoint.tensor("encoder_mask_token").shape == [1, 1, 32])
            let runs = try RunRegistry(home: URL(fileURLWithPath: dir.path + "/home"))
            let losses = try runs.metrics(ofRun: 1, named: "val_loss").map(\.value)
            #expect(losses.count == 4 && losses.allSatisfy { $0.isFinite && $0 > 0 }, "val_loss \(losses)")
        }

        /// A folder with a registry of the out-of-tree PVT plugin, the ViT decoder and the
        /// reconstruction loss, and a synthetic dataset of `images` 64-pixel images in `data`;
        /// the environment that points `mixmae` at them.
        private func pvtPretrainingFolder(images: Int) throws -> (TemporaryFolder, [String: String]) {
            try OutOfTreePluginTests.buildIfNeeded()
            let dir = try TemporaryFolder()
            let registry = try dir.registry([
                buildDirectory + "/libMixViTDecoder.so", buildDirectory + "/libMixReconstruction.so",
                OutOfTreePluginTests.library,
            ])
            let environment = ["MIXMAE_HOME": dir.path + "/home", "MIXMAE_REGISTRY": registry]
            let synth = try runMixmae(
                ["data", "synth", "--out", "data", "--images", "\(images)", "--size", "64"], in: dir.path,
                environment: environment)
            #expect(synth.status == 0, "\(synth.stderr)")
            return (dir, environment)
        }
    }
}
