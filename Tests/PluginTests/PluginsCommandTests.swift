import Foundation
import MixmaePluginHost
import MixmaeSupport
import TestSupport
import Testing

/// `mixmae plugins ...` run as the built executable, in a temporary directory with its own registry.yaml.
@Suite struct PluginsCommandTests {
    @Test func listShowsLoadedComponentsAndEveryRefusalWithItsReason() throws {
        let dir = try TemporaryFolder()
        try dir.registry([
            "${MIXMAE_PLUGIN_DIR}/libTestPluginGood.so", fixture("OtherMajor"), fixture("OwnSDK"),
            fixture("NotAPlugin"), "missing.so",
        ])
        let result = try runMixmae(["plugins", "list"], in: dir.path)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "registry: \(dir.path)/registry.yaml (host SDK \(hostSDK), Swift 6.3.1)")
        let table = lines.dropFirst().prefix { !$0.isEmpty }.map { $0.split(separator: " ").map(String.init) }
        #expect(table[0] == ["ID", "KIND", "VERSION", "LIBRARY", "STATUS"])
        #expect(table[1] == ["toy-backbone", "backbone", "1.2.0", fixture("Good"), "loaded"])
        #expect(table[3] == ["toy-neck", "neck", "0.3.0", fixture("Good"), "loaded"])
        #expect(lines[5].hasSuffix("refused: built for SDK \(otherMajorSDK), host has \(hostSDK)"))
        #expect(lines[6].hasSuffix("refused: linked its own copy of the SDK"))
        #expect(lines[7].hasSuffix("refused: not a mixmae plugin (no mixmae_plugin_abi)"))
        #expect(
            lines[8].hasPrefix("-") && lines[8].contains(" missing.so ") && lines[8].hasSuffix("refused: not found"))
        #expect(result.stdout.contains("3 components from 1 library; 4 refused"))
        #expect(
            result.stdout.contains(
                "  - \(fixture("OwnSDK")) (listed at \(dir.path)/registry.yaml:4:5) linked its own copy of the SDK"))
        #expect(
            result.stdout.contains(
                "  - plugin library \(dir.path)/missing.so (listed at \(dir.path)/registry.yaml:6:5) not found"))
    }

    struct Listing: Decodable {
        struct Component: Decodable {
            var id: String
            var kind: String
            var version: String
            var license: String
            var library: String
        }

        struct Refusal: Decodable {
            var library: String
            var entry: String?
            var reason: String
            var message: String
            var components: [String]
        }

        var registry: String
        var components: [Component]
        var refused: [Refusal]
    }

    @Test func listAsJSON() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([fixture("DuplicateA"), fixture("DuplicateB"), fixture("RegisterFails")])
        let result = try runMixmae(["plugins", "list", "--format", "json", "--registry", file])
        #expect(result.status == 0)
        let listing = try JSONDecoder().decode(Listing.self, from: Data(result.stdout.utf8))
        #expect(listing.registry == file)
        #expect(listing.components.map(\.id) == ["toy-duplicate"])
        #expect(listing.components.first?.library == fixture("DuplicateA"))
        #expect(listing.refused.map(\.reason) == ["duplicate component id 'toy-duplicate'", "register failed"])
        #expect(listing.refused[0].components == ["toy-duplicate", "toy-unique-b"])
        #expect(listing.refused[0].entry == file + ":3:5")
        #expect(listing.refused[1].message.contains("the lookup table toy.bin is missing"))
    }

    /// A communicator (Plugins/MPI's `mpi`) is listed with its kind, in JSON as in the table.
    @Test func listShowsCommunicators() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry(["${MIXMAE_PLUGIN_DIR}/libMixMPI.so"])
        let json = try runMixmae(["plugins", "list", "--format", "json", "--registry", file])
        #expect(json.status == 0, "\(json.stderr)")
        let listing = try JSONDecoder().decode(Listing.self, from: Data(json.stdout.utf8))
        #expect(listing.components.map(\.id) == ["mpi"], "\(json.stdout)")
        #expect(listing.components.first?.kind == "communicator")
        #expect(listing.components.first?.library.hasSuffix("/libMixMPI.so") == true)
        let table = try runMixmae(["plugins", "list", "--registry", file])
        let row = table.stdout.split(separator: "\n").first { $0.hasPrefix("mpi ") }?.split(separator: " ")
        #expect(row?[1] == "communicator", "\(table.stdout)")
    }

    @Test func inspectPrintsTheParameterTableAndCapabilities() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([fixture("Good")])
        let result = try runMixmae(["plugins", "inspect", "toy-backbone"], environment: ["MIXMAE_REGISTRY": file])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        for expected in [
            "toy-backbone 1.2.0",
            "A two-stage toy backbone for the host's tests",
            "Kind backbone", "License MIT", "Library \(fixture("Good"))", "Built with SDK \(hostSDK), Swift 6.3.1",
            "Parameters (8)",
            "NAME TYPE DEFAULT RANGE / ALLOWED REQUIRED DOC",
            "img_size int 32 8 ... 1024 no Square input size in pixels.",
            "mlp_ratio float 2.0 0.5 ... 16.0 no Hidden width of the MLP over embed_dim.",
            "use_mlp bool true - no Whether to apply the residual MLP.",
            "activation string gelu gelu | relu no Activation of the MLP.",
            "out_indices list[int] [0, 1] 0 ... 1 no Which feature maps to emit.",
            "Input 3 channels, 32x32 pixels", "Supports mixing yes",
            "STRIDE CHANNELS GRID", "8 8 4x4", "16 16 2x2",
            "mask.mode mask_token not supported (not a MaskTokenBackbone: refused at mask.mode)",
        ] {
            #expect(rows.contains(expected), "missing row: \(expected)\n\(result.stdout)")
        }
        let neck = try runMixmae(["plugins", "inspect", "toy-neck", "--registry", file])
        #expect(neck.stdout.contains("out_channels  int   -        1 ... 1024       yes"))
        #expect(!neck.stdout.contains("Capabilities"))
        #expect(!neck.stdout.contains("mask_token"), "a neck plays no part in pretraining")
        let json = try runMixmae(["plugins", "inspect", "toy-backbone", "--registry", file, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["mask_token"] as? Bool == false, "\(json.stdout)")
    }

    /// `plugins inspect` says whether a part supports `mask.mode: mask_token`, in the words
    /// of `plugins check` (one source: ``MaskTokenSupport``): the in-tree loss does.
    @Test func inspectSaysWhetherAPartSupportsMaskTokens() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([buildDirectory + "/libMixReconstruction.so"])
        let loss = try runMixmae(["plugins", "inspect", "mix-reconstruction", "--registry", file])
        #expect(loss.status == 0, "\(loss.stdout)\(loss.stderr)")
        let rows = loss.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(rows.contains("mask.mode mask_token supported (MaskedReconstructionLoss)"), "\(loss.stdout)")
        let json = try runMixmae(["plugins", "inspect", "mix-reconstruction", "--registry", file, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["mask_token"] as? Bool == true, "\(json.stdout)")
    }

    @Test func inspectExplainsUnknownAndRefusedIds() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([fixture("Good"), fixture("DuplicateA"), fixture("DuplicateB")])
        let typo = try runMixmae(["plugins", "inspect", "toy-bakbone", "--registry", file])
        #expect(typo.status == 1)
        #expect(typo.stdout.isEmpty)
        #expect(
            typo.stderr
                == "error: no loaded plugin provides 'toy-bakbone'; loaded: toy-backbone, toy-broken-gradient, "
                + "toy-neck, toy-duplicate; did you mean 'toy-backbone'? (registry: \(file); 1 library refused, "
                + "see `mixmae plugins list`)\n")
        let refused = try runMixmae(["plugins", "inspect", "toy-unique-b", "--registry", file])
        #expect(refused.status == 1)
        #expect(
            refused.stderr.hasPrefix(
                "error: 'toy-unique-b' is registered by a library that was refused: \(fixture("DuplicateB"))"))
        let broken = try dir.write("broken.yaml", "plugins:\n  - a.so\n  - [b.so]\n")
        let syntax = try runMixmae(["plugins", "list", "--registry", broken])
        #expect(syntax.status == 1)
        #expect(syntax.stderr == "\(broken):3:5: error: expected a library path (a string), found a list\n")
    }

    @Test func addChecksTheLibraryThenAppendsItRelativeToTheRegistry() throws {
        let dir = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: dir.path + "/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture("DuplicateA"), toPath: dir.path + "/lib/libA.so")
        try FileManager.default.copyItem(atPath: fixture("OtherCompiler"), toPath: dir.path + "/lib/libOld.so")
        let original = "# my plugins\nplugins:\n  - ${MIXMAE_PLUGIN_DIR}/libTestPluginGood.so  # the toys\n"
        let file = try dir.write("registry.yaml", original)

        let added = try runMixmae(["plugins", "add", "lib/libA.so"], in: dir.path)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout == "added lib/libA.so to \(file): toy-duplicate 1.0.0 (loss)\n")
        let afterAdd = original + "  - lib/libA.so\n"
        #expect(try dir.read("registry.yaml") == afterAdd)
        let list = try runMixmae(["plugins", "list"], in: dir.path)
        #expect(list.stdout.contains("4 components from 2 libraries; 0 refused"))

        let again = try runMixmae(["plugins", "add", dir.path + "/lib/../lib/libA.so"], in: dir.path)
        #expect(again.status == 1)
        #expect(
            again.stderr
                == "error: \(dir.path)/lib/libA.so is already in the registry, at \(file):4:5 ('lib/libA.so')\n")

        let old = try runMixmae(["plugins", "add", "lib/libOld.so"], in: dir.path)
        #expect(old.status == 1)
        #expect(old.stderr.hasPrefix("error: not added: \(dir.path)/lib/libOld.so was built by Swift 5.9.0"))

        let duplicate = try runMixmae(["plugins", "add", fixture("DuplicateB")], in: dir.path)
        #expect(duplicate.status == 1)
        #expect(
            duplicate.stderr.contains(
                "registers component 'toy-duplicate', which \(dir.path)/lib/libA.so (loaded first) already provides"))
        #expect(try dir.read("registry.yaml") == afterAdd, "refused libraries leave the registry unchanged")
    }

    @Test func addCreatesARegistryThatDocumentsItsFormat() throws {
        let dir = try TemporaryFolder()
        let file = dir.path + "/conf/registry.yaml"
        try FileManager.default.createDirectory(atPath: dir.path + "/conf", withIntermediateDirectories: true)
        let result = try runMixmae(["plugins", "add", fixture("Good"), "--registry", file], in: dir.path)
        #expect(result.status == 0, "\(result.stderr)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("# registry.yaml: the plugin libraries mixmae may load."))
        // The entry is written relative to the registry file when they share a folder prefix.
        #expect(text.contains("\nplugins:\n  - ") && text.hasSuffix("libTestPluginGood.so\n"))
        #expect(try PluginRegistry.load(from: file).entries.map(\.path) == [fixture("Good")])
    }

    @Test func checkReportsPassAndFailWithTheExitStatus() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([fixture("Good")])
        let good = try runMixmae(["plugins", "check", "toy-backbone", "--registry", file])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.hasPrefix("checking toy-backbone 1.2.0 (backbone) from \(fixture("Good"))\n"))
        #expect(good.stdout.contains("feature maps"))
        #expect(good.stdout.contains("10 of 10 tensors received a gradient"))
        #expect(good.stdout.hasSuffix("\nPASS\n"))
        #expect(good.stderr.contains("... finite differences on 4 parameters"))
        #expect(
            good.stdout.contains(
                "\nmask.mode mask_token: not supported (not a MaskTokenBackbone: refused at mask.mode)\n"),
            "\(good.stdout)")

        let broken = try runMixmae(["plugins", "check", "toy-broken-gradient", "--registry", file, "--elements", "2"])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("MISMATCH"))
        #expect(broken.stdout.contains("\nFAIL\n  - gradient of fc.weight["))
    }

    /// `plugins check` says whether a backbone, decoder or loss supports `mask.mode:
    /// mask_token` (the SDK protocol its built module conforms to): the in-tree loss does.
    @Test func checkSaysWhetherAPartSupportsMaskTokens() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([buildDirectory + "/libMixReconstruction.so"])
        let loss = try runMixmae(["plugins", "check", "mix-reconstruction", "--registry", file])
        #expect(loss.status == 0, "\(loss.stdout)\(loss.stderr)")
        #expect(
            loss.stdout.contains("\nmask.mode mask_token: supported (MaskedReconstructionLoss)\n"), "\(loss.stdout)")
        let json = try runMixmae(["plugins", "check", "mix-reconstruction", "--registry", file, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["mask_token"] as? Bool == true, "\(json.stdout)")
    }

    /// `--format json` carries the verdict, the samples and the failures the text shows.
    @Test func checkAsJSON() throws {
        struct Check: Decodable {
            struct Sample: Decodable {
                var tensor: String
                var shape: [Int]
                var passed: Bool
            }
            var id: String
            var kind: String
            var library: String
            var tensors: Int
            var samples: [Sample]
            var passed: Bool
            var failures: [String]
            var maskToken: Bool?

            enum CodingKeys: String, CodingKey {
                case id, kind, library, tensors, samples, passed, failures
                case maskToken = "mask_token"
            }
        }
        let dir = try TemporaryFolder()
        let file = try dir.registry([fixture("Good")])
        let good = try runMixmae(["plugins", "check", "toy-backbone", "--registry", file, "--format", "json"])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let passed = try JSONDecoder().decode(Check.self, from: Data(good.stdout.utf8))
        #expect(passed.id == "toy-backbone" && passed.kind == "backbone" && passed.library == fixture("Good"))
        #expect(passed.tensors == 10 && passed.passed && passed.failures.isEmpty)
        #expect(passed.maskToken == false)
        #expect(passed.samples.count == 12 && passed.samples.allSatisfy(\.passed))

        let broken = try runMixmae([
            "plugins", "check", "toy-broken-gradient", "--registry", file, "--elements", "2", "--format", "json",
        ])
        #expect(broken.status == 1)
        let failed = try JSONDecoder().decode(Check.self, from: Data(broken.stdout.utf8))
        #expect(!failed.passed && failed.failures.contains { $0.hasPrefix("gradient of fc.weight[") })
        #expect(failed.samples.contains { $0.tensor == "fc.weight" && !$0.passed })
    }

    /// A plugin's shape mistake stops the process at the op's entry check, in the
    /// release build, with the op's name and every input shape: never a wrong result
    /// or a read past a buffer.
    @Test func aShapeMistakeInAPluginNamesTheOpAndTheShapes() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([fixture("WrongBackward")])
        let result = try runMixmae(["plugins", "check", "toy-misshapen-head", "--registry", file])
        #expect(result.status != 0, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("PASS"))
        #expect(
            result.stderr.contains(
                "linear: weight [3, 17] does not fit input [4, 16] (expects [out, 16]) (input shapes [4, 16], [3, 17], [3])"
            ), "\(result.stderr)")
    }

    /// A plugin's own op (`defineOp`) with a right backward passes; the same op whose
    /// backward misses a term of the product rule fails, on the layer before it.
    @Test func checkTellsARightCustomBackwardFromAWrongOne() throws {
        let dir = try TemporaryFolder()
        let file = try dir.registry([fixture("WrongBackward")])
        let right = try runMixmae(["plugins", "check", "toy-swish-head", "--registry", file])
        #expect(right.status == 0, "\(right.stdout)\(right.stderr)")
        #expect(right.stdout.hasSuffix("\nPASS\n"))
        #expect(!right.stdout.contains("MISMATCH"))

        let wrong = try runMixmae(["plugins", "check", "toy-swish-head-wrong-backward", "--registry", file])
        #expect(wrong.status == 1, "\(wrong.stdout)\(wrong.stderr)")
        #expect(wrong.stdout.contains("\nFAIL\n  - gradient of fc1."), "\(wrong.stdout)")
        let rows = wrong.stdout.split(separator: "\n")
        #expect(rows.contains { $0.contains("fc1.weight") && $0.hasSuffix("MISMATCH") })
        // fc2's gradients do not pass through the wrong backward.
        #expect(rows.filter { $0.contains("fc2.") }.allSatisfy { !$0.contains("MISMATCH") })
    }

    @Test func recipeCheckValidatesComponentsAgainstThePluginSchemas() throws {
        let dir = try TemporaryFolder()
        try dir.registry([fixture("Good")])
        let recipe = try dir.write(
            "r.yaml",
            """
            data: {root: images}
            model:
              backbone:
                name: toy-backbone
                embed_dims: 16
                activation: tanh

            """)
        let result = try runMixmae(["recipe", "check", recipe], in: dir.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("\(recipe):5:5: error: model.backbone.embed_dims:"))
        #expect(result.stdout.contains("did you mean 'embed_dim'?"))
        #expect(result.stdout.contains("\(recipe):6:17: error: model.backbone.activation:"))
        #expect(!result.stderr.contains("component parameters were not checked"))
    }
}
