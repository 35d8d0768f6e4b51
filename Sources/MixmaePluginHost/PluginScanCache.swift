import Foundation
import MixKit
import MixmaeSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The plugin scanner's verdicts, remembered per library in
/// `$MIXMAE_HOME/plugin-scans.json` until the library changes.
///
/// A verdict holds while the file at the path keeps its size, modification
/// time and SHA-256, and the scanner executable is the same; anything else
/// scans again. The cache lives in `MIXMAE_HOME` (next to the run registry)
/// rather than next to `registry.yaml`: it is machine-local state about
/// files on this machine, the registry file may be read-only or shared
/// between machines in version control, and several registries may list the
/// same library. Writes are atomic (temporary file, rename); two commands
/// writing at once may each lose the other's new entries, which only costs a
/// scan later.
///
/// ```swift
/// let cache = PluginScanCache(home: URL(fileURLWithPath: ".mixmae"))
/// ```
public final class PluginScanCache {
    /// What a verdict is valid for.
    public struct Key: Codable, Equatable, Sendable {
        public var size: Int64
        public var modified: String
        public var sha256: String
        public var scanner: String

        /// The key of the file at `path` now, or nil when it cannot be read.
        init?(path: String, scanner: String) {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
                let digest = try? FileDigest.of(URL(fileURLWithPath: path))
            else { return nil }
            size = digest.size
            modified = "\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            sha256 = digest.sha256
            self.scanner = scanner
        }
    }

    struct Entry: Codable {
        var key: Key
        var verdict: PluginScanVerdict
    }

    struct Contents: Codable {
        var format = 1
        var libraries: [String: Entry] = [:]
    }

    /// The cache file.
    public let url: URL
    private var contents: Contents
    private var changed = false

    /// The cache in folder `home`, read now (a missing or unreadable file is an empty cache).
    public init(home: URL) {
        url = home.appendingPathComponent("plugin-scans.json")
        contents = PluginScanCache.read(url) ?? Contents()
    }

    /// `MIXMAE_HOME`, else `./.mixmae`, as the run registry resolves it.
    public static func home(environment: [String: String]) -> URL {
        let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        if let value = environment["MIXMAE_HOME"], !value.isEmpty {
            return URL(fileURLWithPath: value, relativeTo: current).standardizedFileURL
        }
        return current.appendingPathComponent(".mixmae")
    }

    /// The remembered verdict for `path` when `key` still matches.
    func verdict(for path: String, key: Key) -> PluginScanVerdict? {
        guard let entry = contents.libraries[path], entry.key == key else { return nil }
        return entry.verdict
    }

    func remember(_ verdict: PluginScanVerdict, for path: String, key: Key) {
        contents.libraries[path] = Entry(key: key, verdict: verdict)
        changed = true
    }

    /// Writes the file when something was added, merged with what other
    /// processes wrote meanwhile; failures are ignored (the next command scans again).
    func save() {
        guard changed else { return }
        var merged = PluginScanCache.read(url) ?? Contents()
        merged.libraries.merge(contents.libraries) { _, mine in mine }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(merged) else { return }
        try? FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".plugin-scans.json.tmp-\(getpid())-\(UUID().uuidString)")
        guard (try? data.write(to: temporary)) != nil else { return }
        if rename(temporary.path, url.path) != 0 { unlink(temporary.path) }
        changed = false
    }

    private static func read(_ url: URL) -> Contents? {
        guard let data = try? RegularFile.read(url.path, maxBytes: 16 << 20, what: "plugin scan cache") else {
            return nil
        }
        return try? JSONDecoder().decode(Contents.self, from: data)
    }
}
