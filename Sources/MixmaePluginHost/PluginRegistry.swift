import Foundation
import MixKit
import MixmaeRecipes
import MixmaeSupport

/// `registry.yaml`: the plugin libraries the host may load.
///
/// ```yaml
/// plugins:
///   - ${MIXMAE_PLUGIN_DIR}/libMixSwin.so      # next to the mixmae executable
///   - Plugins/Examples/PVT/.build/release/libMixPVT.so   # relative to this file
/// ```
///
/// The file is a mapping with one key, `plugins`, a list of library paths
/// (an empty file or an empty list registers nothing). A relative path is
/// relative to the directory of the registry file. `${NAME}` is replaced by
/// the environment variable `NAME`; `${MIXMAE_PLUGIN_DIR}` defaults to the
/// directory of the running executable, where SwiftPM puts the built
/// libraries next to `mixmae`. Parsed with libyaml (``YAMLParser``): every
/// error is a ``YAMLError`` naming file, line and column.
///
/// ```swift
/// let registry = try PluginRegistry.load(from: PluginRegistry.locate())
/// for entry in registry.entries { print(entry.mark, entry.path) }
/// ```
public struct PluginRegistry {
    /// One listed library.
    public struct Entry: Sendable, Equatable {
        /// The path as written in the file.
        public var text: String
        /// The absolute path after variable expansion, relative to the file's directory.
        public var path: String
        /// Where the entry is written.
        public var mark: SourceMark
    }

    /// The environment variable naming another registry file.
    public static let registryVariable = "MIXMAE_REGISTRY"
    /// The variable for the directory of built plugins in paths.
    public static let pluginDirectoryVariable = "MIXMAE_PLUGIN_DIR"
    /// The file name looked for in the current directory and its parents.
    public static let fileName = "registry.yaml"

    /// The registry file.
    public var path: String
    /// The libraries, in file order.
    public var entries: [Entry]
    /// The file's text, as read.
    public var text: String

    public init(path: String, entries: [Entry], text: String) {
        self.path = path
        self.entries = entries
        self.text = text
    }

    /// The registry file to use: `explicit` (a `--registry` option), else
    /// `$MIXMAE_REGISTRY`, else the first `registry.yaml` in the current
    /// directory or one of its parents, else `registry.yaml` in the current
    /// directory (which may not exist yet). Relative paths are taken from the
    /// current directory.
    public static func locate(
        explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) -> String {
        let base = URL(fileURLWithPath: currentDirectory, isDirectory: true)
        if let chosen = explicit ?? environment[registryVariable].flatMap({ $0.isEmpty ? nil : $0 }) {
            return URL(fileURLWithPath: chosen, relativeTo: base).standardizedFileURL.path
        }
        var directory = base.standardizedFileURL
        while true {
            let candidate = directory.appendingPathComponent(fileName).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return base.appendingPathComponent(fileName).standardizedFileURL.path
    }

    /// The directory `${MIXMAE_PLUGIN_DIR}` stands for: the variable if set,
    /// else the directory of the running executable.
    public static func pluginDirectory(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        if let dir = environment[pluginDirectoryVariable], !dir.isEmpty { return dir }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    /// Reads and parses the registry at `path`.
    public static func load(
        from path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> PluginRegistry {
        guard FileManager.default.fileExists(atPath: path) else {
            throw YAMLError(
                mark: SourceMark(file: path, line: 1, column: 1),
                message: "no plugin registry here: create it "
                    + "(`mixmae plugins add PATH` does), or point \(registryVariable) or --registry at one")
        }
        let data: Data
        do {
            data = try RegularFile.read(path, maxBytes: YAMLParser.maximumFileBytes, what: "plugin registry")
        } catch let error as InputFileError {
            throw YAMLError(mark: SourceMark(file: path, line: 1, column: 1), message: error.problem)
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path, environment: environment)
    }

    /// Parses registry text that lives at `path` (used for marks and relative paths).
    public static func parse(
        _ text: String, path: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> PluginRegistry {
        let root = try YAMLParser.parse(text, file: path)
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        let pluginDirectory = pluginDirectory(environment: environment)
        var entries: [Entry] = []
        for item in try listNodes(root) {
            guard case .scalar(let scalar) = item.content, case .string(let written) = scalar.value,
                !written.isEmpty
            else {
                throw YAMLError(
                    mark: item.mark, message: "expected a library path (a string), found \(item.kindDescription)")
            }
            let expanded = try expandVariables(
                in: written, mark: item.mark, environment: environment, pluginDirectory: pluginDirectory)
            let absolute = URL(fileURLWithPath: expanded, relativeTo: directory).standardizedFileURL.path
            entries.append(Entry(text: written, path: absolute, mark: item.mark))
        }
        return PluginRegistry(path: path, entries: entries, text: text)
    }

    /// The items of the `plugins` list (empty for an empty file or list).
    private static func listNodes(_ root: YAMLNode) throws -> [YAMLNode] {
        switch root.content {
        case .null:
            return []
        case .mapping(let mapping):
            for entry in mapping.entries where entry.key != "plugins" {
                throw YAMLError(
                    mark: entry.keyMark,
                    message: "unknown key '\(entry.key)'; the registry has one key, 'plugins' (a list of "
                        + "library paths)"
                        + Suggestions.didYouMean(Suggestions.closest(to: entry.key, among: ["plugins"])))
            }
            guard let list = mapping["plugins"] else { return [] }
            switch list.content {
            case .null: return []
            case .sequence(let items): return items
            default:
                throw YAMLError(
                    mark: list.mark, message: "'plugins' must be a list of library paths, found \(list.kindDescription)"
                )
            }
        default:
            throw YAMLError(
                mark: root.mark,
                message: "expected a mapping with the key 'plugins' (a list of library paths), found "
                    + root.kindDescription)
        }
    }

    /// Replaces every `${NAME}` with the environment's value.
    static func expandVariables(
        in text: String, mark: SourceMark, environment: [String: String], pluginDirectory: String
    ) throws -> String {
        var result = ""
        var rest = Substring(text)
        while let dollar = rest.range(of: "${") {
            result += rest[..<dollar.lowerBound]
            guard let close = rest[dollar.upperBound...].firstIndex(of: "}") else {
                throw YAMLError(mark: mark, message: "unterminated '${' in '\(text)'; write ${NAME}")
            }
            let name = String(rest[dollar.upperBound..<close])
            if name == pluginDirectoryVariable {
                result += pluginDirectory
            } else if let value = environment[name] {
                result += value
            } else {
                throw YAMLError(
                    mark: mark,
                    message: "the environment variable \(name) in '\(text)' is not set; set it, or write the path "
                        + "without it")
            }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }
}
