import Foundation
import MixKit
import MixmaeRecipes
import TestSupport
import Testing

/// Recipes built to hurt the loader (issue 11, points 7 and 8) and the
/// replay of the recipe fuzz target's corpus.
@Suite struct HostileRecipeTests {
    /// Level i lists level i+1 twice; the last level holds the values.
    func diamond(levels: Int, in dir: TemporaryFolder) throws -> String {
        for level in 0..<levels {
            try dir.write(
                "level\(level).yaml", "base: [level\(level + 1).yaml, level\(level + 1).yaml]\nl\(level): \(level)\n")
        }
        try dir.write("level\(levels).yaml", "optim: {base_lr: 0.5}\n")
        return "level0.yaml"
    }

    @Test func aDiamondOfThirtyLevelsLoadsAtOnce() throws {
        let dir = try TemporaryFolder()
        let start = Date()
        let recipe = try dir.load(try diamond(levels: 30, in: dir))
        #expect(Date().timeIntervalSince(start) < 2)
        #expect(recipe.root.value("optim.base_lr") == .float(0.5))
        #expect(recipe.root.value("l0") == .int(0))
        #expect(recipe.root.value("l29") == .int(29))
        #expect(recipe.files.count == 31)
    }

    @Test func aCycleInsideADiamondIsStillReported() throws {
        let dir = try TemporaryFolder()
        try dir.write("a.yaml", "base: [b.yaml, c.yaml]\n")
        try dir.write("b.yaml", "base: d.yaml\n")
        try dir.write("c.yaml", "base: d.yaml\n")
        try dir.write("d.yaml", "base: b.yaml\n")
        let e = error(as: RecipeError.self) { _ = try dir.load("a.yaml") }
        #expect(
            e?.message
                == "base cycle: \(dir.file("a.yaml")) -> \(dir.file("b.yaml")) -> \(dir.file("d.yaml")) -> "
                + "\(dir.file("b.yaml"))")
    }

    @Test func aRecipeThatIsADeviceOrAFIFOIsRefusedWithoutWaiting() throws {
        let dir = try TemporaryFolder()
        let fifo = dir.file("recipe.yaml")
        #expect(mkfifo(fifo, 0o600) == 0)
        let piped = error(as: RecipeError.self) { _ = try RecipeLoader().load(fifo) }
        #expect(
            piped?.description.contains("is a FIFO (named pipe), not a regular file") == true,
            "\(String(describing: piped))")
        try dir.write("a.yaml", "base: /dev/zero\n")
        let device = error(as: RecipeError.self) { _ = try dir.load("a.yaml") }
        #expect(
            device?.description.contains("is a character device, not a regular file") == true,
            "\(String(describing: device))")
    }

    @Test func theFuzzCorpusAndCrashersReplayWithoutCrashing() throws {
        let inputs = FuzzCorpus.inputs("recipe")
        #expect(FuzzCorpus.seeds("recipe").count >= 5)
        var accepted = 0
        for url in inputs {
            let outcome = RecipeFuzzing.run([UInt8](try Data(contentsOf: url)))
            if case .accepted = outcome { accepted += 1 }
            if url.lastPathComponent == "cycle.yaml" {
                guard case .rejected(let message) = outcome else {
                    Issue.record("cycle.yaml was accepted")
                    continue
                }
                #expect(message.contains("base cycle"), "\(message)")
            }
            if url.lastPathComponent == "quickstart-pretrain.yaml" || url.lastPathComponent == "diamond.yaml" {
                guard case .accepted = outcome else {
                    Issue.record("\(url.lastPathComponent): \(outcome)")
                    continue
                }
            }
        }
        #expect(accepted > 0)
    }
}
