import Foundation
import MixKit
import Testing

/// Replays the fuzzing corpus kept in the repository (`Fuzz/Corpus/<target>/`,
/// seeds and inputs found by `scripts/fuzz`) and every saved crasher
/// (`Fuzz/Crashers/<target>/`) through the same entry points the fuzz
/// targets use: each input must be accepted or rejected, never crash.
@Suite struct FuzzCorpusTests {
    static let fuzz = SharedInputs.repositoryRoot.appendingPathComponent("Fuzz")

    static func inputs(_ folder: String, _ target: String) -> [URL] {
        let url = fuzz.appendingPathComponent(folder).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { url.appendingPathComponent($0) }
    }

    @Test(arguments: ReaderFuzzing.targets)
    func corpusAndCrashersReplayWithoutCrashing(_ target: String) throws {
        let corpus = Self.inputs("Corpus", target)
        #expect(corpus.count >= 3, "Fuzz/Corpus/\(target) has \(corpus.count) inputs")
        var accepted = 0
        for url in corpus + Self.inputs("Crashers", target) {
            let bytes = [UInt8](try Data(contentsOf: url))
            let outcome = try #require(ReaderFuzzing.run(target, bytes))
            let name = url.lastPathComponent
            switch outcome {
            case .accepted: accepted += 1
            case .rejected(let message):
                #expect(message.hasPrefix("fuzz-input: ") || target == "pickle", "\(name): \(message)")
            }
            if name.contains("evil") || name.contains("malicious") {
                guard case .rejected(let message) = outcome else {
                    Issue.record("\(name) was accepted")
                    continue
                }
                #expect(message.contains("refused") && message.contains("system"), "\(name): \(message)")
            }
            if name.hasPrefix("state-dict") || name.hasPrefix("dtypes") || name == "fixture-views.pth" {
                #expect(outcome != .accepted(0) && outcome != .rejected(""), "\(name): \(outcome)")
                if case .rejected(let message) = outcome { Issue.record("\(name): \(message)") }
            }
        }
        #expect(accepted > 0)
    }
}
