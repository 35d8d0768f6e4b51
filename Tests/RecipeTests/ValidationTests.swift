import Foundation
import MixKit
import MixmaeRecipes
import MixmaeSupport
import TestSupport
import Testing

/// A recipe schema with one task that reads a `mask` section, as tasks declare theirs
/// (the real tasks' schema is tested with MixmaeTasks).
private let pretrainSchema = RecipeSchema.recipe(
    tasks: [("pretrain", "MixMAE pretraining")],
    taskSections: [.section("mask", [.float("ratio", default: 0.5, range: 0...1, doc: "Mixing ratio.")])])

/// A backbone-like schema that exercises every parameter type.
let swinSchema: [ParameterSpec] = [
    .int("embed_dim", default: 96, range: 1...4096, doc: "Channels of the first stage."),
    .intList("depths", default: [2, 2, 6, 2], range: 0...64, count: 4, doc: "Blocks per stage."),
    .intList("num_heads", default: nil, range: 1...256, count: 4, doc: "Attention heads per stage."),
    .float("mlp_ratio", default: 4.0, range: 1...16, doc: "MLP hidden width over channels."),
    .float("drop_path_rate", default: 0.0, range: 0...1, doc: "Stochastic depth."),
    .string("norm", default: "ln", allowed: ["ln", "bn"], doc: "Normalisation layer."),
    .bool("qkv_bias", default: true, doc: "Bias in the qkv projection."),
    .floatList("scales", default: [1.0], doc: "Scales."),
    .stringList("outputs", default: ["s4"], allowed: ["s1", "s2", "s3", "s4"], doc: "Stages to emit."),
]

@Suite struct ParameterValidatorTests {
    func validate(_ yaml: String) throws -> (ParameterValidator.Result, String) {
        let dir = try TemporaryFolder("recipes")
        let file = try dir.write("r.yaml", yaml)
        let root = try YAMLParser.parse(file: file)
        return (ParameterValidator.validate(root["backbone"], against: swinSchema, at: "model.backbone"), file)
    }

    @Test func validSectionGetsDefaultsFilledIn() throws {
        let (result, _) = try validate(
            "backbone:\n  num_heads: [3, 6, 12, 24]\n  mlp_ratio: 4\n  outputs: [s3, s4]\n")
        #expect(result.issues.isEmpty)
        let p = try result.get()
        #expect(p.intList("num_heads") == [3, 6, 12, 24])
        #expect(p["mlp_ratio"] == .float(4))  // an int is accepted for a float
        #expect(p.int("embed_dim") == 96)
        #expect(p.intList("depths") == [2, 2, 6, 2])
        #expect(p.string("norm") == "ln")
        #expect(p.bool("qkv_bias"))
        #expect(p.stringList("outputs") == ["s3", "s4"])
    }

    @Test func unknownKeySuggestsCloseNames() throws {
        let (result, file) = try validate("backbone:\n  num_heads: [3, 6, 12, 24]\n  embed_dims: 96\n")
        let issue = try #require(result.issues.first)
        #expect(result.issues.count == 1)
        #expect(issue.kind == .unknownKey)
        #expect(issue.mark == SourceMark(file: file, line: 3, column: 3))
        #expect(issue.path.description == "model.backbone.embed_dims")
        #expect(issue.suggestions == ["embed_dim"])
        #expect(issue.message == "unknown key in 'model.backbone'; did you mean 'embed_dim'?")
        #expect(issue.description == "\(file):3:3: error: model.backbone.embed_dims: " + issue.message)
    }

    @Test func unknownKeyWithNothingCloseListsTheValidKeys() throws {
        let (result, _) = try validate("backbone:\n  num_heads: [3, 6, 12, 24]\n  zzzzzz: 1\n")
        #expect(result.issues.first?.suggestions == [])
        #expect(
            result.issues.first?.message
                == "unknown key in 'model.backbone'; valid keys: " + swinSchema.map(\.name).joined(separator: ", "))
    }

    @Test func wrongTypesSayExpectedAndFound() throws {
        let (result, file) = try validate(
            """
            backbone:
              num_heads: [3, 6, 12, 24]
              embed_dim: 96.0
              mlp_ratio: "4"
              qkv_bias: yes
              depths: 4
              norm: 3
              scales: [1, x]
            """)
        let byPath = Dictionary(uniqueKeysWithValues: result.issues.map { ($0.path.description, $0) })
        #expect(result.issues.allSatisfy { $0.kind == .wrongType })
        #expect(result.issues.count == 6)
        let float = try #require(byPath["model.backbone.embed_dim"])
        #expect(float.mark == SourceMark(file: file, line: 3, column: 14))
        #expect(
            float.message == "expected int, found float 96.0 (an int is written without a decimal point: 96)")
        #expect(
            byPath["model.backbone.mlp_ratio"]?.message
                == "expected float, found quoted string '4' (remove the quotes to write a number or bool)")
        #expect(byPath["model.backbone.qkv_bias"]?.message == "expected bool, found string 'yes'")
        #expect(byPath["model.backbone.depths"]?.message == "expected list[int], found int 4")
        #expect(byPath["model.backbone.depths"]?.mark == SourceMark(file: file, line: 6, column: 11))
        #expect(
            byPath["model.backbone.norm"]?.message
                == "expected string, found int 3 (quote it to make it a string: \"3\")")
        let element = try #require(byPath["model.backbone.scales[1]"])
        #expect(element.mark == SourceMark(file: file, line: 8, column: 15))
        #expect(element.message == "expected float, found string 'x'")
    }

    @Test func emptyValuesSayHowToWriteOne() throws {
        let (result, _) = try validate("backbone:\n  num_heads: [3, 6, 12, 24]\n  embed_dim:\n  norm:\n")
        let byPath = Dictionary(uniqueKeysWithValues: result.issues.map { ($0.path.description, $0) })
        #expect(
            byPath["model.backbone.embed_dim"]?.message == "expected int, found null (the value is empty: write one)")
        #expect(
            byPath["model.backbone.norm"]?.message
                == "expected string, found null (the value is empty; an empty string is written \"\", "
                + "on the command line --set 'model.backbone.norm=\"\"')")
    }

    @Test func outOfRangeSaysTheRange() throws {
        let (result, file) = try validate(
            "backbone:\n  num_heads: [3, 6, 12, 24]\n  embed_dim: 0\n  depths: [2, 2, 100, 2]\n  drop_path_rate: 1.5\n")
        #expect(result.issues.map(\.kind) == [.outOfRange, .outOfRange, .outOfRange])
        #expect(result.issues[0].message == "0 is out of range: expected a value in [1, 4096]")
        #expect(result.issues[0].mark == SourceMark(file: file, line: 3, column: 14))
        #expect(result.issues[1].path.description == "model.backbone.depths[2]")
        #expect(result.issues[1].mark == SourceMark(file: file, line: 4, column: 18))
        #expect(result.issues[1].message == "100 is out of range: expected a value in [0, 64]")
        #expect(result.issues[2].message == "1.5 is out of range: expected a value in [0, 1]")
    }

    @Test func valueNotAllowedListsTheValuesAndSuggests() throws {
        let (result, file) = try validate(
            "backbone:\n  num_heads: [3, 6, 12, 24]\n  norm: lm\n  outputs: [s4, s5]\n")
        #expect(result.issues.map(\.kind) == [.notAllowed, .notAllowed])
        #expect(result.issues[0].mark == SourceMark(file: file, line: 3, column: 9))
        #expect(result.issues[0].message == "'lm' is not an allowed value; allowed: ln, bn; did you mean 'ln'?")
        #expect(result.issues[0].suggestions == ["ln"])
        #expect(result.issues[1].path.description == "model.backbone.outputs[1]")
        #expect(result.issues[1].suggestions == ["s1", "s2", "s3", "s4"])
    }

    @Test func wrongListLength() throws {
        let (result, file) = try validate("backbone:\n  num_heads: [3, 6, 12]\n")
        let issue = try #require(result.issues.first)
        #expect(result.issues.count == 1)
        #expect(issue.kind == .wrongCount)
        #expect(issue.mark == SourceMark(file: file, line: 2, column: 14))
        #expect(issue.message == "expected a list of 4 elements, found 3")
    }

    @Test func missingRequiredKeyPointsAtTheSection() throws {
        let (result, file) = try validate("backbone:\n  embed_dim: 64\n")
        let issue = try #require(result.issues.first)
        #expect(issue.kind == .missingKey)
        #expect(issue.mark == SourceMark(file: file, line: 2, column: 3))
        #expect(issue.path.description == "model.backbone.num_heads")
        #expect(
            issue.message
                == "missing required key 'num_heads' (list[int]) in 'model.backbone': Attention heads per stage.")
    }

    @Test func everyIssueIsReportedNotJustTheFirst() throws {
        let (result, _) = try validate(
            "backbone:\n  embed_dimm: 1\n  depths: [1, 2]\n  norm: xx\n  mlp_ratio: [1]\n")
        #expect(result.issues.map(\.kind) == [.unknownKey, .wrongCount, .notAllowed, .wrongType, .missingKey])
        #expect(throws: RecipeValidationError.self) { try result.get() }
    }

    @Test func aSectionThatIsNotAMapping() throws {
        let (result, file) = try validate("backbone: swin\n")
        #expect(result.issues.count == 1)
        #expect(result.issues[0].mark == SourceMark(file: file, line: 1, column: 11))
        #expect(result.issues[0].message == "expected a mapping of parameters, found string 'swin'")
    }

    @Test func suggestionsByEditDistance() {
        #expect(Suggestions.distance("embed_dim", "embed_dims") == 1)
        #expect(Suggestions.distance("optim", "otpim") == 1)
        #expect(Suggestions.distance("", "abc") == 3)
        #expect(Suggestions.closest(to: "deptsh", among: ["depths", "heads", "dim"]) == ["depths"])
        #expect(Suggestions.closest(to: "Embed_Dim", among: ["embed_dim"]) == ["embed_dim"])
        #expect(Suggestions.closest(to: "lr", among: ["base_lr", "eps"]) == [])
    }
}

@Suite struct RecipeCheckerTests {
    let catalog = ComponentCatalog([
        .backbone: ["swin": swinSchema, "pvt": []],
        .decoder: ["mixmae": [.int("decoder_dim", default: 512, range: 1...4096, doc: "Width.")]],
    ])

    @Test func wholeRecipeIssuesInFileOrder() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write(
            "base.yaml",
            """
            optim:
              base_lr: 1.5e-4
              wieght_decay: 0.05
            model:
              decoder: {name: mixmae, decoder_dim: 0}
            """)
        try dir.write(
            "r.yaml",
            """
            base: base.yaml
            optimiser: {}
            schedule:
              epochs: 10.5
            model:
              backbone:
                name: swn
            """)
        let recipe = try dir.load("r.yaml", set: ["mask.ratio=2"])
        let checked = RecipeChecker(schema: pretrainSchema, components: catalog).check(recipe)
        let summary = checked.issues.map { "\($0.mark) \($0.kind) \($0.path)" }
        let (b, r) = (dir.file("base.yaml"), dir.file("r.yaml"))
        #expect(
            summary == [
                "\(b):3:3 unknownKey optim.wieght_decay",
                "\(b):5:40 outOfRange model.decoder.decoder_dim",
                "\(r):1:1 missingKey data.root",
                "\(r):2:1 unknownSection optimiser",
                "\(r):4:11 wrongType schedule.epochs",
                "\(r):7:11 unknownComponent model.backbone.name",
                "--set[1] mask.ratio=2 outOfRange mask.ratio",
            ])
        #expect(checked.issues[0].message.hasSuffix("did you mean 'weight_decay'?"))
        #expect(checked.issues[3].message == "unknown section in the recipe; did you mean 'optim'?")
        #expect(checked.issues[3].suggestions == ["optim"])
        #expect(
            checked.issues[5].message
                == "unknown backbone 'swn' (available backbones: pvt, swin); did you mean 'swin'?")
        #expect(checked.issues[5].suggestions == ["swin"])
        #expect(checked.issues[6].mark.column == 12)
        #expect(checked.issues[6].message == "2 is out of range: expected a value in [0, 1]")
    }

    @Test func validRecipeYieldsSectionsAndComponents() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write(
            "r.yaml",
            """
            data: {root: /data/in1k}
            optim: {base_lr: 1e-3}
            model:
              backbone: {name: swin, num_heads: [3, 6, 12, 24], embed_dim: 64}
            """)
        let checked = RecipeChecker(schema: pretrainSchema, components: catalog).check(try dir.load("r.yaml"))
        #expect(checked.issues.isEmpty)
        #expect(checked.sections["optim"]?.float("base_lr") == 1e-3)
        #expect(checked.sections["optim"]?.floatList("betas") == [0.9, 0.95])
        #expect(checked.sections["schedule"]?.int("warmup_epochs") == 40)
        #expect(checked.sections[.root]?.string("task") == "pretrain")
        let backbone = try #require(checked.components["model.backbone"])
        #expect(backbone.id == "swin")
        #expect(backbone.parameters?.int("embed_dim") == 64)
        #expect(backbone.parameters?.intList("depths") == [2, 2, 6, 2])
        #expect(checked.components["model.decoder"] == nil)
    }

    @Test func missingBackboneAndMissingNameAndRequiredSectionKey() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("r.yaml", "model:\n  decoder: {decoder_dim: 3}\n")
        let checked = RecipeChecker(schema: pretrainSchema, components: catalog).check(try dir.load("r.yaml"))
        let r = dir.file("r.yaml")
        #expect(
            checked.issues.map { "\($0.mark) \($0.kind) \($0.path)" } == [
                "\(r):1:1 missingKey data.root",
                "\(r):2:3 missingKey model.backbone",
                "\(r):2:12 missingKey model.decoder.name",
            ])
        #expect(
            checked.issues[1].message
                == "missing required backbone ('backbone: {name: <id>, ...}'); available backbones: pvt, swin")
        #expect(
            checked.issues[2].message
                == "missing required key 'name': which decoder to use; available decoders: mixmae")
    }

    @Test func withoutACatalogComponentsAreCheckedForNameOnly() throws {
        let dir = try TemporaryFolder("recipes")
        try dir.write("r.yaml", "data: {root: x}\nmodel:\n  backbone: {name: anything, whatever: 1}\n")
        let checked = RecipeChecker(schema: pretrainSchema, components: nil).check(try dir.load("r.yaml"))
        #expect(checked.issues.isEmpty)
        #expect(!checked.checkedComponentParameters)
        #expect(checked.components["model.backbone"]?.id == "anything")
        #expect(checked.components["model.backbone"]?.parameters == nil)
    }
}

@Suite struct ComponentCatalogTests {
    @Test func catalogFromPluginDescriptors() throws {
        func descriptor(_ id: String, _ kind: ComponentKind, _ parameters: [ParameterSpec]) -> ComponentDescriptor {
            ComponentDescriptor(
                id: id, kind: kind, version: "1.0.0", license: "MIT", summary: id, parameters: parameters,
                build: { _, _ in throw ComponentConfigurationError(parameter: "-", problem: "not built here") },
                probe: { _, _, _ in Tensor.zeros([1]) })
        }
        let catalog = ComponentCatalog(descriptors: [
            descriptor("swin", .backbone, swinSchema),
            descriptor("pvt", .backbone, []),
            descriptor("mixmae", .decoder, []),
        ])
        #expect(catalog.ids(.backbone) == ["pvt", "swin"])
        #expect(catalog.ids(.head) == [])
        #expect(catalog.schema(.backbone, "swin") == swinSchema)
        #expect(catalog.schema(.decoder, "swin") == nil)
    }
}
