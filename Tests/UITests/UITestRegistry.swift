import Foundation
import MixmaeRuns
import TestSupport

/// A registry with real rows made through the registry's API: run 1 (pretrain) produces
/// checkpoints and pictures, run 2 (classify) uses run 1's last checkpoint and logs
/// metrics, run 3 (classify) uses the same checkpoint with another recipe. All finished.
struct UITestRegistry {
    let folder: TemporaryFolder
    let home: URL

    init() throws {
        folder = try TemporaryFolder("ui")
        home = folder.fileURL("home")
        var options = RunRegistry.Options()
        options.heartbeatInterval = 0
        let registry = try RunRegistry(home: home, options: options)
        let pretrain = try registry.beginRun(
            task: "pretrain", recipe: RecipeSnapshot(text: "task: pretrain\noptim: {base_lr: 0.0015}\n"), seed: 0)
        for step in 1...20 {
            try pretrain.log(step: Int64(step), ["loss": 1.0 / Double(step), "lr": 0.001])
        }
        try pretrain.log(step: 20, ["val_loss": 0.07])
        let last = pretrain.outputDirectory.appendingPathComponent("last.safetensors")
        try Data("weights of run 1".utf8).write(to: last)
        try pretrain.recordProduced(fileAt: last, role: .checkpointLast, step: 20)
        let pictures = pretrain.outputDirectory.appendingPathComponent("pictures")
        try FileManager.default.createDirectory(at: pictures, withIntermediateDirectories: true)
        try Self.png.write(to: pictures.appendingPathComponent("reconstruction-epoch-0001.png"))
        try Self.png.write(to: pictures.appendingPathComponent("reconstruction-epoch-0002.png"))
        try pretrain.finish(.finished)
        for (index, lr) in ["0.001", "0.002"].enumerated() {
            let finetune = try registry.beginRun(
                task: "classify", recipe: RecipeSnapshot(text: "task: classify\noptim: {base_lr: \(lr)}\n"),
                seed: UInt64(index))
            try finetune.use(try WeightsReference(parsing: "run:1"), role: .initBackbone)
            for step in 1...10 {
                try finetune.log(step: Int64(step), ["loss": 2.0 / Double(step + index), "top1": Double(step) / 20])
            }
            let best = finetune.outputDirectory.appendingPathComponent("best.safetensors")
            try Data("best of run \(finetune.id)".utf8).write(to: best)
            try finetune.recordProduced(fileAt: best, role: .checkpointBest, step: 10)
            try finetune.finish(.finished)
        }
    }

    /// The registry, opened read-only as the UI opens it.
    func readOnly() throws -> RunRegistry {
        var options = RunRegistry.Options()
        options.readOnly = true
        return try RunRegistry(home: home, options: options)
    }

    /// A 1x1 PNG.
    static let png = Data(
        base64Encoded:
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")!
}
