import Foundation
import TestSupport
import Testing

/// Issue 11's hostile inputs (points 7, 9 and 10) through the built executable:
/// each ends quickly in an error at the recipe key, and `recipe check` says
/// what `train` would say, before anything is allocated or registered.
@Suite(.serialized) struct HostileInputTests {
    @Test func weightsFromADeviceOrAFIFOAreRefusedAtOnce() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.classifyRecipe(name: "cls.yaml", initWeights: "/dev/zero")
        let start = Date()
        let device = try ws.mixmae(["train", "cls.yaml"])
        #expect(device.status == 1)
        #expect(
            device.stderr.contains("init.weights: /dev/zero is not a regular file (a device, FIFO or socket)"),
            "\(device.stderr)")
        let fifo = ws.folder.file("weights.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let piped = try ws.mixmae(["train", "cls.yaml", "--set", "init.weights=\(fifo)"])
        #expect(piped.status == 1)
        #expect(piped.stderr.contains("init.weights: \(fifo) is not a regular file"), "\(piped.stderr)")
        #expect(Date().timeIntervalSince(start) < 60)
        #expect(try ws.registry.runs().isEmpty)
    }

    /// A setting `recipe check` must reject with the words `train` uses.
    struct Mismatch: Sendable, CustomStringConvertible {
        var setting: String
        var words: String
        var description: String { setting }
    }

    static let mismatches: [Mismatch] = [
        Mismatch(
            setting: "model.backbone.num_heads=[3, 2, 2, 4]",
            words: "model.backbone.num_heads[0]: stage 0 has 16 channels, not divisible by 3 heads"),
        Mismatch(
            setting: "model.backbone.depths=[1, 1, 2]",
            words: "depths has 3 stages, num_heads 4 and window_size 4: give one value per stage"),
        // Windows need not divide the grids (stages pad to whole windows): out_indices must name stages.
        Mismatch(
            setting: "model.backbone.out_indices=[0, 5]",
            words: "stage 5 does not exist; stages are 0..<4"),
        Mismatch(
            setting: "model.backbone.img_size=66",
            words: "model.backbone.img_size: 66 is not divisible by patch_size 4"),
        Mismatch(
            setting: "model.decoder.decoder_num_heads=3",
            words: "model.decoder.decoder_dim: 32 must be a multiple of 4 (sin-cos table) and of decoder_num_heads 3"),
    ]

    @Test(arguments: mismatches)
    func recipeCheckRejectsWhatTrainRejects(_ mismatch: Mismatch) throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 4)
        let check = try ws.mixmae(["recipe", "check", "pretrain.yaml", "--set", mismatch.setting])
        #expect(check.status == 1, "\(check.stdout)\(check.stderr)")
        #expect((check.stdout + check.stderr).contains(mismatch.words), "\(check.stdout)\(check.stderr)")
        let train = try ws.mixmae(["train", "pretrain.yaml", "--set", mismatch.setting])
        #expect(train.status == 1)
        #expect(train.stderr.contains(mismatch.words), "\(train.stderr)")
        #expect(try ws.registry.runs().isEmpty)
    }

    @Test func aModelTooLargeForMemoryIsARecipeErrorBeforeAnythingIsAllocated() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 4)
        let huge = [
            "--set", "model.backbone.embed_dim=4096", "--set", "model.backbone.img_size=4096", "--set",
            "data.img_size=4096", "--set", "model.backbone.num_heads=[1, 2, 4, 8]",
            "--set", "model.backbone.window_size=[8, 8, 8, 8]",
        ]
        for command in [["recipe", "check"], ["train"]] {
            let start = Date()
            let result = try ws.mixmae(command + ["pretrain.yaml"] + huge)
            let output = result.stdout + result.stderr
            #expect(result.status == 1, "\(command): \(output)")
            #expect(!result.signalled)
            #expect(output.contains("model.backbone: the model needs about"), "\(output)")
            #expect(output.contains("to train on a single image"), "\(output)")
            #expect(output.contains("more than this machine's"), "\(output)")
            #expect(Date().timeIntervalSince(start) < 60)
        }
        #expect(try ws.registry.runs().isEmpty)
    }
}
