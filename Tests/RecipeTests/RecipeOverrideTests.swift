import Foundation
import MixmaeRecipes
import MixmaeSupport
import TestSupport
import Testing

@Suite struct RecipeOverrideTests {
    func folder() throws -> TemporaryFolder {
        let dir = try TemporaryFolder("recipes")
        try dir.write(
            "r.yaml",
            """
            optim:
              base_lr: 1.5e-4
              betas: [0.9, 0.95]
            model:
              backbone: {name: swin, depths: [2, 2, 6, 2]}
            """)
        return dir
    }

    @Test func setsAScalarTypedAsYAML() throws {
        let dir = try folder()
        let recipe = try dir.load("r.yaml", set: ["optim.base_lr=1e-3", "model.backbone.name='7'"])
        #expect(recipe.root.value("optim.base_lr") == .float(0.001))
        #expect(recipe.root.node(at: "optim.base_lr")?.scalar?.text == "1e-3")
        #expect(recipe.root.value("model.backbone.name") == .string("7"))
    }

    @Test func setsAListAndAMapping() throws {
        let dir = try folder()
        let recipe = try dir.load(
            "r.yaml", set: ["model.backbone.depths=[2,2,18,2]", "model.decoder={name: mixmae, decoder_dim: 256}"])
        #expect(recipe.root.values("model.backbone.depths") == [.int(2), .int(2), .int(18), .int(2)])
        #expect(recipe.root.value("model.decoder.decoder_dim") == .int(256))
    }

    @Test func mappingValuesMergeUnlessReplaced() throws {
        let dir = try folder()
        let merged = try dir.load("r.yaml", set: ["model.backbone={embed_dim: 64}"])
        #expect(merged.root["model"]?["backbone"]?.mapping?.keys == ["name", "depths", "embed_dim"])
        let replaced = try dir.load("r.yaml", set: ["model.backbone=!replace {name: pvt}"])
        #expect(replaced.root["model"]?["backbone"]?.mapping?.keys == ["name"])
    }

    @Test func createsIntermediateMappings() throws {
        let dir = try folder()
        let recipe = try dir.load("r.yaml", set: ["data.aug.hflip=0.5"])
        #expect(recipe.root.value("data.aug.hflip") == .float(0.5))
        #expect(recipe.root.mapping?.keys == ["optim", "model", "data"])
    }

    @Test func overridesApplyInOrder() throws {
        let dir = try folder()
        let recipe = try dir.load("r.yaml", set: ["optim.base_lr=1", "optim.base_lr=2"])
        #expect(recipe.root.value("optim.base_lr") == .int(2))
        #expect(
            recipe.origin(of: "optim.base_lr")
                == SourceMark(origin: .override(index: 2, argument: "optim.base_lr=2"), line: 1, column: 15))
    }

    @Test func deleteFromTheCommandLine() throws {
        let dir = try folder()
        let recipe = try dir.load("r.yaml", set: ["optim.betas=!delete"])
        #expect(recipe.root["optim"]?.mapping?.keys == ["base_lr"])
        let e = error(as: RecipeError.self) { _ = try dir.load("r.yaml", set: ["optim.nope=!delete"]) }
        #expect(e?.message == "'optim.nope' is not set, so there is nothing to delete")
    }

    @Test func aPathThroughAScalarIsAnError() throws {
        let dir = try folder()
        let e = error(as: RecipeError.self) { _ = try dir.load("r.yaml", set: ["x=1", "optim.base_lr.x=1"]) }
        let err = try #require(e)
        #expect(err.mark == SourceMark(origin: .override(index: 2, argument: "optim.base_lr.x=1"), line: 1, column: 1))
        #expect(err.message.contains("cannot set 'optim.base_lr.x': 'optim.base_lr' is float 1.5e-4"))
        #expect(err.message.contains("(set at \(dir.file("r.yaml")):2:12)"))
        let throughList = error(as: RecipeError.self) {
            _ = try dir.load("r.yaml", set: ["optim.betas.first=1"])
        }
        #expect(throughList?.message.contains("'optim.betas' is a list") == true)
    }

    @Test func malformedArgumentsAreErrors() throws {
        #expect(
            error(as: RecipeError.self) { _ = try RecipeOverride("optim.lr", index: 1) }?.message
                .contains("found no '='") == true)
        #expect(
            error(as: RecipeError.self) { _ = try RecipeOverride("optim..lr=1", index: 1) }?.message
                .contains("not a dot-separated path") == true)
        let yaml = error(as: RecipeError.self) { _ = try RecipeOverride("a=[1, 2", index: 3) }
        #expect(yaml?.mark?.origin == .override(index: 3, argument: "a=[1, 2"))
        #expect(yaml?.message.contains("did not find expected") == true)
        let block = error(as: RecipeError.self) { _ = try RecipeOverride("a=b: c", index: 1) }
        #expect(block?.message.contains("block YAML mapping") == true)
    }

    @Test func emptyValueIsNull() throws {
        let o = try RecipeOverride("a.b=", index: 1)
        #expect(o.value.isNull)
        #expect(o.keys == ["a", "b"])
    }
}
