import Foundation
import MixKit
import TestSupport
import Testing

/// `mixmae forward` against the reference PyTorch tensors in fixtures/parity.
@Suite struct ParityTests {
    /// max |a - b| / max |b|.
    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        var diff: Float = 0
        var scale: Float = 0
        for i in 0..<b.count {
            diff = max(diff, abs(a.data[i] - b.data[i]))
            scale = max(scale, abs(b.data[i]))
        }
        return diff / max(scale, 1e-30)
    }

    func runCase(_ name: String) throws -> (SafeTensorsFile, SafeTensorsFile) {
        let dir = TestPaths.shared.appendingPathComponent("fixtures/parity/\(name)").path
        let out = try TemporaryFolder("parity")
        let result = try runMixmae(
            [
                "forward", "--config", dir + "/config.json", "--weights", dir + "/weights.safetensors", "--batch",
                dir + "/batch.safetensors", "--out", out.file("out.safetensors"),
            ], in: TestPaths.packageRoot.path)
        #expect(result.status == 0, "\(result.stderr)")
        return (
            try SafeTensorsFile(path: out.file("out.safetensors")),
            try SafeTensorsFile(path: dir + "/expected.safetensors")
        )
    }

    @Test(arguments: ["pretrain_small", "finetune_small"])
    func forwardMatchesTheReference(_ name: String) throws {
        let (got, expected) = try runCase(name)
        #expect(Set(got.names) == Set(expected.names), "outputs differ from the fixture's names")
        for key in expected.names {
            let e = try expected.tensor(key)
            let g = try got.tensor(key)
            #expect(g.shape == e.shape, "\(key): shape \(g.shape) vs \(e.shape)")
            guard g.shape == e.shape else { continue }
            let error = relativeError(g, e)
            let tolerance: Float = key == "loss" ? 1e-4 : 1e-3
            #expect(error < tolerance, "\(name) \(key): relative error \(error)")
        }
    }

    @Test func forwardWithoutGradientsWritesNoGradients() throws {
        let dir = TestPaths.shared.appendingPathComponent("fixtures/parity/pretrain_small").path
        let out = try TemporaryFolder("parity")
        let result = try runMixmae(
            [
                "forward", "--config", dir + "/config.json", "--weights", dir + "/weights.safetensors", "--batch",
                dir + "/batch.safetensors", "--out", out.file("o.safetensors"), "--no-grad",
            ], in: TestPaths.packageRoot.path)
        #expect(result.status == 0, "\(result.stderr)")
        let file = try SafeTensorsFile(path: out.file("o.safetensors"))
        #expect(Set(file.names) == ["loss", "features", "reconstruction"])
    }

    @Test func badInputsGiveErrorsThatSayWhereAndWhat() throws {
        let fixture = TestPaths.shared.appendingPathComponent("fixtures/parity/pretrain_small").path
        let dir = try TemporaryFolder("parity")
        let config = try dir.write(
            "config.json",
            """
            {"kind": "pretrain", "img_size": 64, "embed_dim": 16, "depths": [1, 1, 2, 1],
             "num_heads": [1, 2, 2, 4], "window_sizes": [4, 4, 4, 2], "decoder_dim": 32}
            """)
        var result = try runMixmae(
            [
                "forward", "--config", config, "--weights", fixture + "/weights.safetensors", "--batch",
                fixture + "/batch.safetensors", "--out", dir.file("o.safetensors"),
            ], in: TestPaths.packageRoot.path)
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "\(config):2:29: error: window_sizes: unknown hyper-parameter; did you mean 'window_size'?"),
            "\(result.stderr)")
        // The right names but another width: every wrong-shape tensor is reported together.
        let wide = try dir.write(
            "wide.json",
            """
            {"kind": "pretrain", "img_size": 64, "embed_dim": 32, "depths": [1, 1, 2, 1],
             "num_heads": [1, 2, 2, 4], "window_size": [4, 4, 4, 2], "decoder_dim": 32,
             "decoder_depth": 1, "decoder_num_heads": 2}
            """)
        result = try runMixmae(
            [
                "forward", "--config", wide, "--weights", fixture + "/weights.safetensors", "--batch",
                fixture + "/batch.safetensors", "--out", dir.file("o.safetensors"),
            ], in: TestPaths.packageRoot.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("patch_embed.proj.weight: model has [32, 3, 4, 4], file has [16, 3, 4, 4]"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("o.safetensors")))
        // A batch without images.
        let empty = dir.file("empty.safetensors")
        try SafeTensors.write(["images": Tensor.zeros([0, 3, 64, 64])], to: empty)
        result = try runMixmae(
            [
                "forward", "--config", fixture + "/config.json", "--weights", fixture + "/weights.safetensors",
                "--batch", empty, "--out", dir.file("o.safetensors"),
            ], in: TestPaths.packageRoot.path)
        #expect(result.status == 1)
        #expect(result.stderr.contains("tensor 'images' holds no image (shape [0, 3, 64, 64])"), "\(result.stderr)")
    }
}
