import MixmaeSupport

/// One node of a parsed YAML document, with the place it was written.
///
/// Mappings keep their keys in the order written; scalars keep their raw text
/// and whether they were plain or quoted (a quoted scalar is always a string,
/// see ``YAMLScalar/value``). Tags other than the recipe tags are refused by
/// the recipe loader; the parser keeps them in ``tag``.
///
/// ```swift
/// let root = try YAMLParser.parse("lr: 1e-3\n", file: "a.yaml")
/// root["lr"]?.scalar?.value  // .float(0.001)
/// root["lr"]?.mark           // a.yaml:1:5
/// ```
public struct YAMLNode: Sendable {
    public enum Content: Sendable {
        /// `null`, `~`, or nothing (`key:`).
        case null
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        case mapping(YAMLMapping)
    }

    public var content: Content
    public var mark: SourceMark
    /// The node's tag as libyaml reports it (`!delete`, `tag:yaml.org,2002:str`), if written.
    public var tag: String?

    public init(_ content: Content, mark: SourceMark, tag: String? = nil) {
        self.content = content
        self.mark = mark
        self.tag = tag
    }

    public var isNull: Bool {
        if case .null = content { return true }
        return false
    }

    public var scalar: YAMLScalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    public var mapping: YAMLMapping? {
        if case .mapping(let m) = content { return m }
        return nil
    }

    /// The value of `key` if this node is a mapping that has it.
    public subscript(key: String) -> YAMLNode? {
        mapping?[key]
    }

    /// The node at `path` below this one (keys into mappings, indices into sequences).
    public func node(at path: RecipePath) -> YAMLNode? {
        var node = self
        for component in path.components {
            switch component {
            case .key(let key):
                guard let next = node.mapping?[key] else { return nil }
                node = next
            case .index(let index):
                guard let items = node.sequence, items.indices.contains(index) else { return nil }
                node = items[index]
            }
        }
        return node
    }

    /// A short description of what the node holds, for error messages:
    /// `int 3`, `string 'abc'`, `a list`, `a mapping`, `null`.
    public var kindDescription: String {
        switch content {
        case .null: return "null"
        case .scalar(let s): return s.kindDescription
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// True when both trees hold the same structure, keys (in order), scalar
    /// texts and plain/quoted kinds; marks, styles of quoting and tags are ignored.
    public func isEquivalent(to other: YAMLNode) -> Bool {
        switch (content, other.content) {
        case (.null, .null):
            return true
        case (.scalar(let a), .scalar(let b)):
            return a.text == b.text && a.isPlain == b.isPlain
        case (.sequence(let a), .sequence(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEquivalent(to: $1) }
        case (.mapping(let a), .mapping(let b)):
            return a.count == b.count
                && zip(a.entries, b.entries).allSatisfy {
                    $0.key == $1.key && $0.value.isEquivalent(to: $1.value)
                }
        default:
            return false
        }
    }
}

/// How a scalar was written.
public enum ScalarStyle: String, Sendable {
    case plain
    case singleQuoted = "single-quoted"
    case doubleQuoted = "double-quoted"
    case literal
    case folded
}

/// A scalar's raw text and how it was written. A plain scalar is typed by
/// ``ScalarValue/resolve(plain:)``; any other style is a string.
public struct YAMLScalar: Sendable, Equatable {
    public var text: String
    public var style: ScalarStyle

    public init(_ text: String, style: ScalarStyle = .plain) {
        self.text = text
        self.style = style
    }

    public var isPlain: Bool { style == .plain }

    /// The typed value: plain scalars as YAML 1.2 core types, everything else a string.
    public var value: ScalarValue {
        guard isPlain else { return .string(text) }
        return ScalarValue.resolve(plain: text) ?? .string(text)
    }

    var kindDescription: String {
        switch value {
        case .bool(let v): return "bool \(v)"
        case .int: return "int \(text)"
        case .float: return "float \(text)"
        case .string(let v): return isPlain ? "string '\(v)'" : "quoted string '\(v)'"
        }
    }
}

/// A mapping with keys in the order they were written. Keys are the raw text
/// of scalar keys; each keeps its own mark.
public struct YAMLMapping: Sendable {
    public struct Entry: Sendable {
        public var key: String
        public var keyMark: SourceMark
        public var value: YAMLNode

        public init(key: String, keyMark: SourceMark, value: YAMLNode) {
            self.key = key
            self.keyMark = keyMark
            self.value = value
        }
    }

    public private(set) var entries: [Entry] = []

    public init(_ entries: [Entry] = []) {
        for entry in entries { set(entry) }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public func entry(_ key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    public subscript(key: String) -> YAMLNode? {
        entry(key)?.value
    }

    /// Replaces the entry with the same key in place, or appends it.
    public mutating func set(_ entry: Entry) {
        if let i = entries.firstIndex(where: { $0.key == entry.key }) {
            entries[i] = entry
        } else {
            entries.append(entry)
        }
    }

    /// Removes `key`, returning its entry if it was there.
    @discardableResult
    public mutating func remove(_ key: String) -> Entry? {
        guard let i = entries.firstIndex(where: { $0.key == key }) else { return nil }
        return entries.remove(at: i)
    }
}

/// A path to a node in a recipe: `model.backbone.depths[2]`.
public struct RecipePath: Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    /// A path from dot-separated keys (`"optim.lr"`); no indices.
    public init(dotted: String) {
        components =
            dotted.isEmpty
            ? []
            : dotted.split(separator: ".", omittingEmptySubsequences: false)
                .map { .key(String($0)) }
    }

    public init(stringLiteral value: String) {
        self.init(dotted: value)
    }

    public static let root = RecipePath()

    public var isRoot: Bool { components.isEmpty }

    public func appending(_ key: String) -> RecipePath {
        RecipePath(components + [.key(key)])
    }

    public func appending(index: Int) -> RecipePath {
        RecipePath(components + [.index(index)])
    }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key): text += text.isEmpty ? key : "." + key
            case .index(let index): text += "[\(index)]"
            }
        }
        return text.isEmpty ? "<root>" : text
    }
}
