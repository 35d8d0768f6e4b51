import Foundation
import MixmaeRecipes
import TestSupport
import Testing

@Suite struct RecipeCommandTests {
    @Test func showPrintsTheResolvedRecipeWithProvenance() throws {
        let dir = try TemporaryFolder("recipes")
        let base = try dir.write("base.yaml", "optim:\n  base_lr: 1.5e-4\n  weight_decay: 0.05\n")
        let top = try dir.write("top.yaml", "base: base.yaml\noptim:\n  weight_decay: 0.1\n")
        let plain = try runMixmae(["recipe", "show", top, "--set", "optim.base_lr=1e-3"])
        #expect(plain.status == 0)
        #expect(plain.stdout == "optim:\n  base_lr: 1e-3\n  weight_decay: 0.1\n")
        let annotated = try runMixmae(["recipe", "show", top, "--provenance"])
        #expect(annotated.stdout.contains("base_lr: 1.5e-4      # \(base):2:12"))
        #expect(annotated.stdout.contains("weight_decay: 0.1    # \(top):3:17"))
        let hash = try runMixmae(["recipe", "show", top, "--hash"])
        #expect(hash.stdout == (try RecipeLoader().load(top)).hash + "\n")
    }

    @Test func checkPrintsEveryIssueAndFails() throws {
        let dir = try TemporaryFolder("recipes")
        let file = try dir.write(
            "r.yaml",
            """
            data: {root: x, img_size: 8}
            optimizer: {}
            model:
              backbone: {name: swin}
            schedule: {epochs: ten}
            """)
        // No plugin registry: component parameters cannot be checked.
        let result = try runMixmae(
            ["recipe", "check", file, "--set", "mask.ratio=1.5"],
            environment: ["MIXMAE_REGISTRY": dir.file("no-registry.yaml")])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "\(file):1:27: error: data.img_size: 8 is out of range: expected a value in [16, 4096]",
                "\(file):2:1: error: optimizer: unknown section in the recipe; did you mean 'optim'?",
                "\(file):5:20: error: schedule.epochs: expected int, found string 'ten'",
                "--set[1] mask.ratio=1.5: error: mask.ratio: 1.5 is out of range: expected a value in [0, 1]",
                "4 errors in \(file)",
            ])
        #expect(result.stderr.contains("note: component parameters were not checked"))
    }

    @Test func checkPassesAShippedRecipe() throws {
        let recipes = try #require(YAMLRoundTripTests.repositoryRecipes())
        let result = try runMixmae(["recipe", "check", recipes + "/pretrain/swin-tiny.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout.contains(": ok (sha256 "))
    }

    @Test func loadErrorsPrintWithTheirPlace() throws {
        let dir = try TemporaryFolder("recipes")
        let a = try dir.write("a.yaml", "base: b.yaml\n")
        let b = try dir.write("b.yaml", "base: a.yaml\n")
        let result = try runMixmae(["recipe", "check", a])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("\(b):1:7: error: base cycle: \(a) -> \(b) -> \(a)\n"))
        #expect(result.stderr.contains("  \(a):1:7: base: b.yaml"))
    }
}
