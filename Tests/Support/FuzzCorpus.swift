import Foundation

/// The saved fuzzing inputs of one target: `Fuzz/Corpus/<target>/` (seeds
/// and what `scripts/fuzz ... merge` added) and `Fuzz/Crashers/<target>/`
/// (every input that ever crashed it), for the replay tests.
///
/// ```swift
/// for url in FuzzCorpus.inputs("png") { _ = DataReaderFuzzing.png([UInt8](try Data(contentsOf: url))) }
/// ```
public enum FuzzCorpus {
    static let root = TestPaths.packageRoot.appendingPathComponent("Fuzz")

    /// The seed corpus of `target`, sorted by name.
    public static func seeds(_ target: String) -> [URL] { files("Corpus", target) }

    /// The saved crashers of `target`, sorted by name.
    public static func crashers(_ target: String) -> [URL] { files("Crashers", target) }

    /// Seeds then crashers.
    public static func inputs(_ target: String) -> [URL] { seeds(target) + crashers(target) }

    private static func files(_ folder: String, _ target: String) -> [URL] {
        let url = root.appendingPathComponent(folder).appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { url.appendingPathComponent($0) }
    }
}
