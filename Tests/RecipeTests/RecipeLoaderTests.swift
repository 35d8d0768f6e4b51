import Foundation
import MixmaeRecipes
import MixmaeSupport
import TestSupport
import Testing

@Suite struct RecipeMergeTests {
    @Test func mappingsMergeKeyByKeyAndListsReplace() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write(
            "base.yaml",
            """
            optim:
              base_lr: 1.5e-4
              betas: [0.9, 0.95]
            model:
              backbone:
                name: swin
                depths: [2, 2, 6, 2]
                embed_dim: 96
            """)
        try dir.write(
            "top.yaml",
            """
            base: base.yaml
            optim:
              weight_decay: 0.05
              betas: [0.8]
            model:
              backbone:
                embed_dim: 128
                depths: [2, 2, 18, 2]
            """)
        let recipe = try dir.load("top.yaml")
        let root = recipe.root
        #expect(root.mapping?.keys == ["optim", "model"])
        #expect(root["optim"]?.mapping?.keys == ["base_lr", "betas", "weight_decay"])
        #expect(root.value("optim.base_lr") == .float(1.5e-4))
        #expect(root.values("optim.betas") == [.float(0.8)])
        #expect(root.value("optim.weight_decay") == .float(0.05))
        #expect(root.value("model.backbone.name") == .string("swin"))
        #expect(root.value("model.backbone.embed_dim") == .int(128))
        #expect(root.values("model.backbone.depths") == [.int(2), .int(2), .int(18), .int(2)])
        #expect(root["base"] == nil)
        #expect(recipe.files == [dir.file("base.yaml"), dir.file("top.yaml")])
    }

    @Test func scalarsReplaceMappingsAndMappingsReplaceScalars() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("b.yaml", "a: {x: 1}\nb: 5\n")
        try dir.write("t.yaml", "base: b.yaml\na: 3\nb: {y: 2}\n")
        let root = try dir.load("t.yaml").root
        #expect(root.value("a") == .int(3))
        #expect(root.value("b.y") == .int(2))
    }

    @Test func multipleBasesMergeInListOrderThenTheRecipe() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("one.yaml", "x: 1\ny: 1\nz: 1\nonly_one: a\n")
        try dir.write("two.yaml", "y: 2\nz: 2\nonly_two: b\n")
        try dir.write("sub/top.yaml", "base: [../one.yaml, ../two.yaml]\nz: 3\n")
        let recipe = try dir.load("sub/top.yaml")
        #expect(recipe.root.value("x") == .int(1))
        #expect(recipe.root.value("y") == .int(2))
        #expect(recipe.root.value("z") == .int(3))
        #expect(recipe.root.mapping?.keys == ["x", "y", "z", "only_one", "only_two"])
        #expect(recipe.files == [dir.file("one.yaml"), dir.file("two.yaml"), dir.file("sub/top.yaml")])
    }

    @Test func basesResolveRecursivelyRelativeToTheirOwnFile() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("base/model.yaml", "m: 1\nk: model\n")
        try dir.write("base/pretrain.yaml", "base: model.yaml\np: 1\nk: pretrain\n")
        try dir.write("exp/run.yaml", "base: ../base/pretrain.yaml\nr: 1\n")
        let recipe = try dir.load("exp/run.yaml")
        #expect(recipe.root.mapping?.keys == ["m", "k", "p", "r"])
        #expect(recipe.root.value("k") == .string("pretrain"))
        #expect(recipe.origin(of: "m") == SourceMark(file: dir.file("base/model.yaml"), line: 1, column: 4))
    }

    @Test func emptyRecipeFileIsAnEmptyMapping() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("empty.yaml", "# nothing yet\n")
        try dir.write("t.yaml", "base: empty.yaml\na: 1\n")
        #expect(try dir.load("t.yaml").root.mapping?.keys == ["a"])
    }

    @Test func aRecipeMustBeAMapping() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("list.yaml", "- a\n- b\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("list.yaml") }
        #expect(e?.mark == SourceMark(file: dir.file("list.yaml"), line: 1, column: 1))
        #expect(e?.message.contains("found a list") == true)
    }

    @Test func baseMustBePathsOnly() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("t.yaml", "base: [a.yaml, 3]\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("t.yaml") }
        #expect(e?.mark == SourceMark(file: dir.file("t.yaml"), line: 1, column: 16))
        #expect(e?.message.contains("found int 3") == true)
    }

    @Test func yamlErrorsInABaseCarryTheChain() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("broken.yaml", "a: [1,\n")
        try dir.write("t.yaml", "x: 1\nbase: broken.yaml\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("t.yaml") }
        let err = try #require(e)
        #expect(err.mark?.file == dir.file("broken.yaml"))
        #expect(err.chain.map(\.mark) == [SourceMark(file: dir.file("t.yaml"), line: 2, column: 7)])
    }
}

@Suite struct RecipeDeletionTests {
    @Test func deleteRemovesAnInheritedSubtree() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write(
            "b.yaml", "model:\n  backbone: {name: swin}\n  decoder: {name: mixmae, decoder_dim: 512}\n")
        try dir.write("t.yaml", "base: b.yaml\nmodel:\n  decoder: !delete\n")
        let root = try dir.load("t.yaml").root
        #expect(root["model"]?.mapping?.keys == ["backbone"])
    }

    @Test func deleteFromALaterBaseAppliesToAnEarlierOne() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("one.yaml", "a: 1\nb: 2\n")
        try dir.write("two.yaml", "b: !delete\n")
        try dir.write("t.yaml", "base: [one.yaml, two.yaml]\n")
        #expect(try dir.load("t.yaml").root.mapping?.keys == ["a"])
    }

    @Test func aKeyDeletedBelowCanBeSetAgainWithoutMergingTheOldValue() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("one.yaml", "m: {a: 1, b: 2}\n")
        try dir.write("two.yaml", "m: !delete\n")
        try dir.write("three.yaml", "base: two.yaml\nm: {c: 3}\n")
        try dir.write("t.yaml", "base: [one.yaml, three.yaml]\n")
        #expect(try dir.load("t.yaml").root["m"]?.mapping?.keys == ["c"])
    }

    @Test func replaceSwapsAMappingInsteadOfMerging() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("b.yaml", "backbone: {name: swin, window_size: [7, 7, 7, 7], embed_dim: 96}\n")
        try dir.write("t.yaml", "base: b.yaml\nbackbone: !replace\n  name: pvt\n  embed_dim: 64\n")
        let root = try dir.load("t.yaml").root
        #expect(root["backbone"]?.mapping?.keys == ["name", "embed_dim"])
        #expect(root.value("backbone.name") == .string("pvt"))
        #expect(root["backbone"]?.tag == nil)
    }

    @Test func deletingSomethingNotInheritedIsAnError() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("b.yaml", "model:\n  decoder: {name: mixmae}\n")
        try dir.write("t.yaml", "base: b.yaml\nmodel:\n  decodr: !delete\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("t.yaml") }
        #expect(e?.mark == SourceMark(file: dir.file("t.yaml"), line: 3, column: 11))
        #expect(e?.message.contains("'model.decodr: !delete' removes nothing") == true)
    }

    @Test func deleteTakesNoValueAndOnlyStandsAsAMappingValue() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("v.yaml", "a: !delete 3\n")
        let withValue = error(as: RecipeError.self) { _ = try dir.load("v.yaml") }
        #expect(withValue?.mark == SourceMark(file: dir.file("v.yaml"), line: 1, column: 4))
        #expect(withValue?.message.contains("!delete takes no value") == true)
        try dir.write("s.yaml", "a:\n  - 1\n  - !delete\n")
        let inList = error(as: RecipeError.self) { _ = try dir.load("s.yaml") }
        #expect(inList?.mark == SourceMark(file: dir.file("s.yaml"), line: 3, column: 5))
        #expect(inList?.message.contains("must be a mapping value") == true)
    }

    @Test func unknownTagsAreErrors() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("t.yaml", "a: !!str 3\nb: !remove\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("t.yaml") }
        #expect(e?.mark == SourceMark(file: dir.file("t.yaml"), line: 1, column: 4))
        #expect(e?.message.contains("unknown tag '!!str'") == true)
        #expect(e?.message.contains("quote the value") == true)
    }
}

@Suite struct RecipeBaseErrorTests {
    @Test func cycleShowsTheWholeChain() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("a.yaml", "base: b.yaml\nx: 1\n")
        try dir.write("b.yaml", "y: 1\nbase: [c.yaml]\n")
        try dir.write("c.yaml", "base: a.yaml\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("a.yaml") }
        let err = try #require(e)
        let (a, b, c) = (dir.file("a.yaml"), dir.file("b.yaml"), dir.file("c.yaml"))
        #expect(err.message == "base cycle: \(a) -> \(b) -> \(c) -> \(a)")
        #expect(err.mark == SourceMark(file: c, line: 1, column: 7))
        #expect(
            err.chain.map(\.mark) == [
                SourceMark(file: a, line: 1, column: 7),
                SourceMark(file: b, line: 2, column: 8),
                SourceMark(file: c, line: 1, column: 7),
            ])
        #expect(err.description.contains("\n  \(b):2:8: base: c.yaml"))
    }

    @Test func selfBaseIsACycle() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("a.yaml", "base: ./a.yaml\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("a.yaml") }
        #expect(e?.message == "base cycle: \(dir.file("a.yaml")) -> \(dir.file("a.yaml"))")
    }

    @Test func diamondIsNotACycle() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("d.yaml", "d: 1\n")
        try dir.write("b.yaml", "base: d.yaml\nb: 1\n")
        try dir.write("c.yaml", "base: d.yaml\nc: 1\n")
        try dir.write("a.yaml", "base: [b.yaml, c.yaml]\n")
        let recipe = try dir.load("a.yaml")
        #expect(recipe.root.mapping?.keys == ["d", "b", "c"])
        #expect(recipe.files.count == 4)
    }

    @Test func missingBaseShowsTheChain() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("a.yaml", "base: sub/b.yaml\n")
        try dir.write("sub/b.yaml", "x: 1\nbase:\n  - ../c.yaml\n  - gone.yaml\n")
        try dir.write("c.yaml", "c: 1\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("a.yaml") }
        let err = try #require(e)
        #expect(err.mark == SourceMark(file: dir.file("sub/b.yaml"), line: 4, column: 5))
        #expect(err.message.contains("base 'gone.yaml' not found: no file at '\(dir.file("sub/gone.yaml"))'"))
        #expect(
            err.message.contains(
                "reached through \(dir.file("a.yaml")) -> \(dir.file("sub/b.yaml")) -> \(dir.file("sub/gone.yaml"))"
            ))
        #expect(err.chain.map(\.mark.line) == [1, 4])
        #expect(err.chain.map(\.target) == ["sub/b.yaml", "gone.yaml"])
    }

    @Test func missingRecipeIsAnError() throws {
        let e = error(as: RecipeError.self) { _ = try RecipeLoader().load("/nonexistent/r.yaml") }
        #expect(e?.message == "recipe '/nonexistent/r.yaml' not found")
    }
}
