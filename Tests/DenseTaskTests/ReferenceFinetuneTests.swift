import Foundation
import MixKit
import MixmaePluginHost
import MixmaeTasks
import TestSupport
import Testing

/// The finetune is the reference's: layer-decay groups as the official `util/lr_decay.py`
/// and initialisation as `models_mixmim.py` / `models_mixmim_ft.py`.
@Suite struct ReferenceFinetuneTests {
    let catalog: PluginCatalog

    init() throws {
        catalog = try PluginCatalog.shared(registry: TestPaths.packageRoot.appendingPathComponent("registry.yaml").path)
    }

    /// A classifier built from a reference `config.json` (the names `mixmae forward` reads).
    func classifier(_ json: String, seed: UInt64 = 0) throws -> ClassifierModel {
        let folder = try TemporaryFolder("reference-finetune")
        let path = try folder.write("config.json", json)
        let config = try ReferenceConfig(path: path, provider: catalog)
        return try config.buildClassifier(with: ComponentBuilder(provider: catalog, rng: RandomSource(seed: seed)))
    }

    static let mixmimBase = """
        {"kind": "finetune", "img_size": 224, "patch_size": 4, "embed_dim": 128, "depths": [2, 2, 18, 2],
         "num_heads": [4, 8, 16, 32], "window_size": [14, 14, 14, 7], "num_classes": 1000}
        """

    /// Every parameter of `mixmim_base` (1000 classes) gets the reference's lr_scale and
    /// weight decay with layer_decay 0.7 and weight decay 0.05
    /// (fixtures/layer_decay/mixmim_base.json).
    @Test func layerDecayGroupsMatchTheReferenceForEveryParameter() throws {
        let url = TestPaths.shared.appendingPathComponent("fixtures/layer_decay/mixmim_base.json")
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let expected = fixture["params"] as! [String: [String: Double]]
        let model = try classifier(Self.mixmimBase)
        let task = ClassifyTask(
            model: model,
            mixing: MixupCutmix(
                mixupAlpha: 0, cutmixAlpha: 0, probability: 1, switchProbability: 0.5, labelSmoothing: 0.1,
                classes: 1000), layerDecay: 0.7, weightDecay: 0.05, validation: nil,
            seed: 0)
        var got: [String: (lr: Double, wd: Double)] = [:]
        for group in task.parameterGroups() {
            for (name, _) in group.parameters { got[name] = (Double(group.lrScale), Double(group.weightDecay)) }
        }
        #expect(Set(got.keys) == Set(expected.keys), "trainable names differ from the reference's")
        var wrong: [String] = []
        for (name, want) in expected.sorted(by: { $0.key < $1.key }) {
            guard let have = got[name] else { continue }
            let lr = want["lr_scale"]!
            if abs(have.lr - lr) > 1e-6 * lr || abs(have.wd - want["weight_decay"]!) > 1e-9 {
                wrong.append("\(name): lr_scale \(have.lr) wd \(have.wd), reference \(lr) \(want["weight_decay"]!)")
            }
        }
        #expect(
            wrong.isEmpty, "\(wrong.count) of \(expected.count) differ:\n\(wrong.prefix(20).joined(separator: "\n"))")
        #expect(expected.count == 329)
    }

    /// Linear layers xavier-uniform with zero bias, LayerNorms 1 and 0, the relative-position
    /// tables truncated normal (std 0.02), the patch embedding at PyTorch's Conv2d default,
    /// the head truncated normal with std 2e-5 (main_finetune.py's manual init).
    @Test func initialisationFollowsTheReference() throws {
        let model = try classifier(
            """
            {"kind": "finetune", "img_size": 64, "embed_dim": 32, "depths": [1, 1, 2, 1],
             "num_heads": [1, 2, 4, 8], "window_size": [8, 8, 4, 2], "num_classes": 10}
            """, seed: 3)
        var checkedLinear = 0
        for (name, t) in model.namedParameters() {
            let values = t.scalars
            let mean = values.reduce(0, +) / Float(values.count)
            let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
            let top = values.map(abs).max() ?? 0
            if name == "head.weight" {
                #expect(abs(std - 2e-5) < 0.3e-5, "\(name): std \(std)")
            } else if name == "patch_embed.proj.weight" || name == "patch_embed.proj.bias" {
                let bound = 1 / Float(3 * 4 * 4).squareRoot()
                #expect(top <= bound && top > 0.8 * bound, "\(name): max |w| \(top), PyTorch's bound \(bound)")
            } else if name.hasSuffix("relative_position_bias_table") {
                #expect(abs(std - 0.02) < 0.006, "\(name): std \(std)")
            } else if name.contains("norm") {
                let want: Float = name.hasSuffix(".weight") ? 1 : 0
                #expect(values.allSatisfy { $0 == want }, "\(name) should be all \(want)")
            } else if name.hasSuffix(".bias") {
                #expect(values.allSatisfy { $0 == 0 }, "\(name) should be zero")
            } else if t.rank == 2 {
                let bound = (6 / Float(t.shape[0] + t.shape[1])).squareRoot()
                #expect(top <= bound && top > 0.9 * bound, "\(name): max |w| \(top), xavier bound \(bound)")
                #expect(abs(std - bound / Float(3).squareRoot()) < 0.1 * bound, "\(name): std \(std)")
                checkedLinear += 1
            }
        }
        #expect(checkedLinear >= 20)
    }
}
