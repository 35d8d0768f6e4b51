import Foundation
import TestSupport
import Testing

/// Inputs a user can plausibly get wrong: each one ends in an error that names
/// the key or file and what to do, never in a crash (exit status 132 and a backtrace).
@Suite(.serialized) struct InputMistakeTests {
    @Test func reversedCropScaleIsARecipeError() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 8)
        try ws.classifyRecipe(name: "cls.yaml", initWeights: "")
        for recipe in ["pretrain.yaml", "cls.yaml"] {
            let result = try ws.mixmae(["train", recipe, "--set", "data.crop_scale=[1.0, 0.2]"])
            #expect(result.status == 1, "\(recipe): \(result.stderr)")
            #expect(
                result.stderr.contains("data.crop_scale: [1.0, 0.2] must be [low, high] with low <= high"),
                "\(result.stderr)")
        }
        #expect(try ws.registry.runs().isEmpty)
    }

    @Test func emptyDetectionShortSidesIsARecipeError() throws {
        let ws = try TrainingWorkspace(images: 64)
        let recipe = TestPaths.packageRoot.appendingPathComponent("recipes/quickstart/detect.yaml").path
        let result = try ws.mixmae([
            "train", recipe, "--set", "data.root=data/detection", "--set", "detect.short_sides=[]",
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains("detect.short_sides: the list is empty: give at least one training size"),
            "\(result.stderr)")
        #expect(try ws.registry.runs().isEmpty)
    }

    @Test func aDetectionImageFolderWithoutItsImagesIsARecipeError() throws {
        let ws = try TrainingWorkspace(images: 64)
        let recipe = TestPaths.packageRoot.appendingPathComponent("recipes/quickstart/detect.yaml").path
        let result = try ws.mixmae([
            "train", recipe, "--set", "data.root=data/detection", "--set", "detect.train_img=val/images",
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("detect.train_img: none of the"), "\(result.stderr)")
        #expect(result.stderr.contains("set detect.train_img to the folder holding them"), "\(result.stderr)")
        #expect(try ws.registry.runs().isEmpty)
    }

    @Test func resumingWithoutTheOptimizerStateLeavesTheRunAsItWas() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 2, batch: 16)
        let stopped = try ws.mixmae(["train", "pretrain.yaml", "--stop-after-steps", "2"])
        #expect(stopped.status != 0)
        let before = try #require(try ws.registry.run(1))
        #expect(before.status == .killed)
        // The published copy is not needed (resume reads the committed step files) ...
        try FileManager.default.removeItem(atPath: ws.folder.file("home/runs/1/last.optim.safetensors"))
        // ... but the committed optimizer state is.
        try FileManager.default.removeItem(atPath: ws.folder.file("home/runs/1/step-00000002.optim.safetensors"))
        let resumed = try ws.mixmae(["train", "--resume", "1"])
        #expect(resumed.status == 1)
        #expect(
            resumed.stderr.contains(
                "step-00000002.manifest.json: run 1 cannot continue exactly: step 2: step-00000002.optim.safetensors is "
                    + "missing; restore the files and resume again (the run was not changed)"), "\(resumed.stderr)")
        let after = try #require(try ws.registry.run(1))
        #expect(after.status == .killed && after.attempt == before.attempt)
    }

    @Test func missingFoldersAndWeightsAreReportedAtTheirKeys() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 8)
        let validation = try ws.mixmae(["train", "pretrain.yaml", "--set", "data.val_root=data/nowhere"])
        #expect(validation.status == 1)
        #expect(
            validation.stderr.contains("error: data.val_root: data/nowhere: no such folder"), "\(validation.stderr)")
        // A relative weights path is taken from the recipe's folder, which the message says.
        try ws.classifyRecipe(name: "recipes/cls.yaml", initWeights: "pretrained.safetensors")
        try Data().write(to: URL(fileURLWithPath: ws.folder.file("pretrained.safetensors")))
        let weights = try ws.mixmae(["train", "recipes/cls.yaml"])
        #expect(weights.status == 1)
        #expect(
            weights.stderr.contains(
                "init.weights: \(ws.folder.path)/recipes/pretrained.safetensors does not exist "
                    + "('pretrained.safetensors' is taken relative to the recipe's folder"),
            "\(weights.stderr)")
        let folder = try ws.mixmae(["train", "recipes/cls.yaml", "--set", "init.weights=\(ws.folder.path)"])
        #expect(folder.stderr.contains("init.weights: \(ws.folder.path) is a folder"), "\(folder.stderr)")
        #expect(try ws.registry.runs().isEmpty)
    }

    @Test func aDatasetWithoutOneReadableImageSaysWhatToCheck() throws {
        let ws = try TrainingWorkspace(images: 64)
        for i in 0..<8 { try ws.folder.write("broken/\(i).png", "") }
        try ws.pretrainRecipe(epochs: 1, batch: 4)
        // By default more than 1% unreadable stops the run with the list.
        let result = try ws.mixmae(["train", "pretrain.yaml", "--set", "data.root=broken", "--set", "log.pictures=0"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("more than data.max_unreadable allows (1%)"), "\(result.stderr)")
        #expect(result.stderr.contains("  broken/"), "\(result.stderr)")
        // With no threshold, a dataset without one readable image still says what to check.
        let any = try ws.mixmae([
            "train", "pretrain.yaml", "--set", "data.root=broken", "--set", "log.pictures=0", "--set",
            "data.max_unreadable=1",
        ])
        #expect(any.status == 1)
        #expect(
            any.stderr.contains("neither can any other of the dataset's 8 images (each is in a warning above)"),
            "\(any.stderr)")
        #expect(!result.stderr.contains("compute count"), "\(result.stderr)")
    }

    @Test func benchTrainRejectsStepCountsAndMaskRatiosItCannotRun() throws {
        let folder = try TemporaryFolder("bench")
        let environment = [
            "MIXMAE_REGISTRY": TestPaths.packageRoot.appendingPathComponent("registry.yaml").path,
            "MIXMAE_HOME": folder.file("home"),
        ]
        func config(_ extra: String) throws -> String {
            try folder.write(
                "config.json",
                """
                {"img_size": 64, "embed_dim": 16, "depths": [1, 1, 2, 1], "num_heads": [1, 2, 2, 4],
                 "window_size": [4, 4, 4, 2], "decoder_dim": 32, "decoder_depth": 1, "decoder_num_heads": 2,
                 \(extra)}
                """)
        }
        let path = try config("\"batch\": 4")
        for (option, message) in [
            ("--steps=0", "--steps must be at least 1"), ("--warmup=-1", "--warmup must be 0 or more"),
        ] {
            let result = try runMixmae(["bench", "train", "--config", path, option], environment: environment)
            #expect(result.status == 2, "\(option): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
        }
        _ = try config("\"batch\": 4, \"mask_ratio\": -0.5")
        let ratio = try runMixmae(["bench", "train", "--config", path, "--steps", "1"], environment: environment)
        #expect(ratio.status == 1, "\(ratio.stderr)")
        #expect(ratio.stderr.contains("config.json:3:"), "\(ratio.stderr)")
        #expect(ratio.stderr.contains("error: mask_ratio: -0.5 is out of range"), "\(ratio.stderr)")
        _ = try config("\"batch\": 3")
        let odd = try runMixmae(["bench", "train", "--config", path, "--steps", "1"], environment: environment)
        #expect(odd.status == 1, "\(odd.stderr)")
        #expect(odd.stderr.contains("batch: 3 is odd"), "\(odd.stderr)")
    }

    @Test func referenceConfigSizesThatDoNotFitPointAtTheirKey() throws {
        let folder = try TemporaryFolder("forward")
        let path = try folder.write(
            "config.json",
            """
            {"img_size": 64, "embed_dim": 16,
             "depths": [1, 1, 2], "num_heads": [1, 2, 2, 4], "window_size": [4, 4, 4, 2]}
            """)
        let result = try runMixmae(
            ["bench", "train", "--config", path, "--steps", "1"],
            environment: ["MIXMAE_REGISTRY": TestPaths.packageRoot.appendingPathComponent("registry.yaml").path])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains("config.json:2:23: error: num_heads/window_size: depths has 3 stages"),
            "\(result.stderr)")
    }
}
