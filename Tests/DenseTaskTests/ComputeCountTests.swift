import Foundation
import MixKit
import MixmaePluginHost
import MixmaeTasks
import TestSupport
import Testing

/// The op counters against a count by hand: a Swin backbone's GEMM work is
/// its patch embedding, its blocks and its patch mergings.
@Suite struct ComputeCountTests {
    /// Per Swin block on N tokens of width C in windows of w x w: qkv 2N·C·3C,
    /// q·kᵀ and attention·v 2N·w²·C each, the projection 2N·C², the MLP 2·2N·C·4C.
    static func swinBlock(tokens n: Double, width c: Double, window w: Double) -> Double {
        24 * n * c * c + 4 * n * w * w * c
    }

    @Test func aSwinBackboneCountsWhatAHandCountGives() throws {
        let catalog = try PluginCatalog.shared(
            registry: TestPaths.packageRoot.appendingPathComponent("registry.yaml").path)
        let builder = ComponentBuilder(provider: catalog, rng: RandomSource(seed: 0))
        let descriptor = try catalog.descriptor("swin", kind: .backbone)
        var values = Parameters(defaultsOf: descriptor.parameters).values
        values["img_size"] = .int(64)
        values["embed_dim"] = .int(16)
        values["depths"] = .intList([2, 1, 1, 1])
        values["num_heads"] = .intList([1, 2, 2, 4])
        values["window_size"] = .intList([4, 4, 4, 2])
        let backbone = try builder.backbone("swin", Parameters(values))
        let batch = 3
        let images = Tensor.zeros([batch, 3, 64, 64])
        let counted = ComputeCount.counting { _ = withNoGrad { backbone.features(images, mixing: nil) } }

        var expected = 2 * 256 * 16 * (3 * 4 * 4.0)  // the 4x4 patch embedding: 256 tokens of 48 values -> 16
        let stages: [(tokens: Double, width: Double, window: Double, depth: Double)] = [
            (256, 16, 4, 2), (64, 32, 4, 1), (16, 64, 4, 1), (4, 128, 2, 1),
        ]
        for (index, stage) in stages.enumerated() {
            expected += stage.depth * Self.swinBlock(tokens: stage.tokens, width: stage.width, window: stage.window)
            // Patch merging after every stage but the last: N/4 tokens, 4C -> 2C.
            if index < stages.count - 1 { expected += 2 * (stage.tokens / 4) * (4 * stage.width) * (2 * stage.width) }
        }
        #expect(counted.forward == expected * Double(batch))
        #expect(counted.backward == 0)
    }

    /// A run's start-up count runs on the training thread, inside `MIXMAE_PROFILE=1`'s
    /// profile: it must neither restart nor stop it (the table would show the count, not
    /// the training steps). A profile started by the API stands in for the switch's.
    @Test func countingLeavesTheThreadsProfileAsItWas() {
        let a = Tensor.ones([2, 3])
        let b = Tensor.ones([3, 4])
        Profiler.start()
        defer { Profiler.stop() }
        _ = a.gelu()
        let counted = ComputeCount.counting { _ = matmul(a, b) }
        #expect(counted.forward == 2 * 2 * 3 * 4)
        #expect(counted.backward == 0)
        #expect(Profiler.isActive)
        let ops = Set(Profiler.summary().entries.map(\.op))
        #expect(ops.isSuperset(of: ["gelu", "matmul"]), "\(ops)")
    }
}
