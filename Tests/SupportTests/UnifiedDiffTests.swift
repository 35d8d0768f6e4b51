import Foundation
import MixmaeSupport
import TestSupport
import Testing

@Suite struct UnifiedDiffTests {
    @Test func identicalTextsHaveNoDiff() {
        #expect(UnifiedDiff.make(old: "a\nb\n", new: "a\nb\n", oldLabel: "x", newLabel: "y") == "")
    }

    @Test func aOneLineChangeLooksLikeDiffU() {
        let old = (1...10).map { "line \($0)" }.joined(separator: "\n") + "\n"
        let new = old.replacingOccurrences(of: "line 5\n", with: "line five\n")
        #expect(
            UnifiedDiff.make(old: old, new: new, oldLabel: "run 1", newLabel: "run 2") == """
                --- run 1
                +++ run 2
                @@ -2,7 +2,7 @@
                 line 2
                 line 3
                 line 4
                -line 5
                +line five
                 line 6
                 line 7
                 line 8

                """)
    }

    /// Random edits, checked by applying the diff with `patch` (no fuzz): the result must be the
    /// new text.
    @Test func patchTurnsOldIntoNew() throws {
        let directory = try TemporaryFolder("diff")
        var generator = SystemRandomNumberGenerator()
        let words = ["lr: 1e-3", "lr: 3e-4", "epochs: 10", "model:", "  depth: 2", "  depth: 6", "seed: 0", ""]
        for trial in 0..<40 {
            let old = (0..<Int.random(in: 0...30, using: &generator)).map { _ in words.randomElement(using: &generator)!
            }
            var new = old
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let position = Int.random(in: 0...new.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0 where position < new.count: new.remove(at: position)
                case 1 where position < new.count: new[position] = words.randomElement(using: &generator)!
                default: new.insert(words.randomElement(using: &generator)!, at: position)
                }
            }
            let oldText = old.map { $0 + "\n" }.joined()
            let newText = new.map { $0 + "\n" }.joined()
            let diff = UnifiedDiff.make(old: oldText, new: newText, oldLabel: "old", newLabel: "new")
            if oldText == newText {
                #expect(diff.isEmpty)
                continue
            }
            let oldFile = directory.fileURL("old-\(trial).txt")
            let patchFile = directory.fileURL("diff-\(trial).patch")
            let outFile = directory.fileURL("out-\(trial).txt")
            try Data(oldText.utf8).write(to: oldFile)
            try Data(diff.utf8).write(to: patchFile)
            let result = try runProgram(
                "/usr/bin/patch", ["--fuzz=0", "-o", outFile.path, oldFile.path, patchFile.path])
            #expect(result.status == 0, "patch failed: \(result.stdout) \(result.stderr)\n\(diff)")
            // Hunk line numbers must be exact: patch reports any offset it had to apply.
            #expect(!result.stdout.contains("offset"), "\(result.stdout)\n\(diff)")
            #expect(try String(contentsOf: outFile, encoding: .utf8) == newText, "\(diff)")
        }
    }
}
