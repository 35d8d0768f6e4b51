import Foundation
import MixKit
import MixmaePluginHost
import MixmaeTasks
import TestSupport
import Testing

/// A whole MixMAE model from the registry's plugins (Swin, `vit-decoder`, `mix-reconstruction`): a training
/// forward pass decodes only the tokens the loss reads, `bothBranches: true` (what `mixmae forward` asks) decodes
/// both branches, and the two give the same loss and the same gradient for every parameter.
@Suite struct HiddenTokenPretrainTests {
    static let config = """
        {"kind": "pretrain", "img_size": 64, "patch_size": 4, "embed_dim": 16, "depths": [1, 1, 2, 1],
         "num_heads": [1, 2, 2, 4], "window_size": [4, 4, 4, 2], "decoder_dim": 32, "decoder_depth": 2,
         "decoder_num_heads": 2, "norm_pix_loss": true}
        """

    @Test func theTrainingPathHasTheDualBranchLossAndGradients() throws {
        let catalog = try PluginCatalog.shared(
            registry: TestPaths.packageRoot.appendingPathComponent("registry.yaml").path)
        let folder = try TemporaryFolder("hidden-token-pretrain")
        let config = try ReferenceConfig(path: try folder.write("config.json", Self.config), provider: catalog)
        let model = try config.buildPretrainModel(with: ComponentBuilder(provider: catalog, rng: RandomSource(seed: 4)))
        var rng = RandomGenerator(seed: 6)
        let images = Tensor.randomNormal([4, 3, 64, 64], using: &rng)
        let mixing = MixingMask(height: 2, width: 2, values: [1, 0, 1, 1])
        let parameters = model.namedParameters()

        func run(bothBranches: Bool) -> (output: PretrainModel.Output, gradients: [[Float]]) {
            for (_, p) in parameters { p.grad = nil }
            let output = model(images, mixing: mixing, bothBranches: bothBranches)
            output.loss.backward()
            return (output, parameters.map { $0.1.grad?.scalars ?? [] })
        }
        let (hidden, both) = (run(bothBranches: false), run(bothBranches: true))
        #expect(hidden.output.reconstruction.shape == [4, 4, 32 * 32 * 3])
        #expect(both.output.reconstruction.shape == [8, 4, 32 * 32 * 3])
        let unmixed = mixing.unmix(both.output.reconstruction, height: 2, width: 2).scalars
        let worst = zip(hidden.output.reconstruction.scalars, unmixed).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-5)
        let (loss, reference) = (hidden.output.loss.item(), both.output.loss.item())
        #expect(abs(loss - reference) <= 1e-5 * reference, "\(loss) against \(reference)")
        #expect(parameters.count > 40)
        for ((name, _), (got, want)) in zip(parameters, zip(hidden.gradients, both.gradients)) {
            #expect(!want.isEmpty && got.count == want.count, "\(name)")
            let scale = want.map { abs($0) }.max() ?? 0
            let error = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            #expect(error <= 1e-4 * scale + 1e-9, "\(name): \(error) against gradients up to \(scale)")
        }
    }
}
