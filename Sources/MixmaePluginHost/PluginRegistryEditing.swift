import Foundation
import MixmaeRecipes
import MixmaeSupport

extension PluginRegistry {
    /// The comment at the top of a registry file the host creates; it documents the format.
    public static let header = """
        # registry.yaml: the plugin libraries mixmae may load.
        #
        # One key, `plugins`, a list of shared-library paths. A relative path is
        # relative to this file's directory. `${NAME}` is replaced by the
        # environment variable NAME; `${MIXMAE_PLUGIN_DIR}` defaults to the
        # directory of the running mixmae executable (where `swift build` puts
        # the in-tree plugins). MIXMAE_REGISTRY=/path/to/other.yaml selects
        # another registry file. Add entries with `mixmae plugins add PATH`,
        # which checks the library first; `mixmae plugins list` shows what loads.
        #
        # Libraries load in this order; when two register the same component id,
        # the first one wins and the later library is refused as a whole.

        """

    /// How `library` (an absolute path) is written in this registry: relative to
    /// the registry's directory, or absolute when they share no directory but `/`.
    ///
    /// ```swift
    /// registry.entryText(for: "/repo/Plugins/Examples/PVT/.build/release/libMixPVT.so")
    /// // "Plugins/Examples/PVT/.build/release/libMixPVT.so" for /repo/registry.yaml
    /// ```
    public func entryText(for library: String) -> String {
        let from = URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.pathComponents
        let to = URL(fileURLWithPath: library).standardizedFileURL.pathComponents
        var common = 0
        while common < min(from.count, to.count) && from[common] == to[common] { common += 1 }
        if common <= 1 { return URL(fileURLWithPath: library).standardizedFileURL.path }
        let ups = Array(repeating: "..", count: from.count - common)
        return (ups + to[common...]).joined(separator: "/")
    }

    /// This registry's text with `entry` appended to the `plugins` list,
    /// keeping every comment and line as written. A new file gets ``header``.
    public func appending(_ entry: String) throws -> String {
        let scalar =
            YAMLWriter.isSafePlain(entry, inFlow: false) && ScalarValue.resolve(plain: entry) == .string(entry)
            ? entry : YAMLWriter.doubleQuoted(entry)
        let edited = try insert(scalar)
        let check = try PluginRegistry.parse(edited, path: path)
        guard check.entries.map(\.text) == entries.map(\.text) + [entry] else {
            throw YAMLError(
                mark: SourceMark(file: path, line: 1, column: 1),
                message: "could not add '\(entry)' automatically; add `  - \(scalar)` under `plugins:` by hand")
        }
        return edited
    }

    private func insert(_ scalar: String) throws -> String {
        let root = try YAMLParser.parse(text, file: path)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        func result() -> String { lines.joined(separator: "\n") + "\n" }

        guard case .mapping(let mapping) = root.content else {
            if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { lines = [PluginRegistry.header] }
            lines += ["plugins:", "  - \(scalar)"]
            return result()
        }
        guard let key = mapping.entry("plugins") else { throw cannotEdit("the file has no 'plugins' list") }
        let keyLine = key.keyMark.line - 1
        let value = key.value
        let items = value.sequence ?? []
        if value.isNull || items.isEmpty {
            // `plugins:`, `plugins: ~` or `plugins: []` on the key's line: make it a block list.
            let line = Array(lines[keyLine].unicodeScalars)
            let afterKey = key.keyMark.column - 1 + "plugins".unicodeScalars.count
            guard afterKey < line.count, line[afterKey] == ":" else { throw cannotEdit("unexpected 'plugins' key") }
            let rest = String(String.UnicodeScalarView(line[(afterKey + 1)...]))
            let (valueText, comment) = splitComment(rest)
            guard ["", "~", "null", "[]"].contains(valueText.replacingOccurrences(of: " ", with: "")) else {
                throw cannotEdit("'plugins' is written across lines")
            }
            lines[keyLine] = String(String.UnicodeScalarView(line[...afterKey])) + (comment.map { "  " + $0 } ?? "")
            let indent = String(repeating: " ", count: key.keyMark.column - 1 + 2)
            lines.insert(indent + "- " + scalar, at: keyLine + 1)
            return result()
        }
        let dashColumn = value.mark.column - 1
        let dashLine = Array(lines[value.mark.line - 1].unicodeScalars)
        guard dashColumn < dashLine.count, dashLine[dashColumn] == "-" else {
            throw cannotEdit("'plugins' is a flow list ([a, b]); write it as a block list (one '- path' per line)")
        }
        var last = items[items.count - 1].mark.line - 1
        while last + 1 < lines.count {
            let next = lines[last + 1]
            let indent = next.prefix { $0 == " " }.count
            let body = next.dropFirst(indent)
            guard !body.isEmpty, !body.hasPrefix("#"), indent > dashColumn else { break }
            last += 1
        }
        lines.insert(String(repeating: " ", count: dashColumn) + "- " + scalar, at: last + 1)
        return result()
    }

    /// Splits `  ~  # note` into the value text and the comment (with its `#`).
    private func splitComment(_ rest: String) -> (String, String?) {
        guard let hash = rest.firstIndex(of: "#") else { return (rest, nil) }
        return (String(rest[..<hash]), String(rest[hash...]))
    }

    private func cannotEdit(_ why: String) -> YAMLError {
        YAMLError(
            mark: SourceMark(file: path, line: 1, column: 1),
            message: "cannot add an entry automatically: \(why); edit the file by hand")
    }

    /// Writes `text` to the registry file atomically (a temporary file, then a rename).
    public func write(_ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
