import MixmaeSupport

/// One `base:` entry that led from one recipe file to another.
public struct BaseReference: Sendable, Equatable {
    /// The recipe file that holds the `base:` entry.
    public var file: String
    /// The entry's text as written (`../base/pretrain.yaml`).
    public var target: String
    /// The path the entry resolves to, relative to the recipe file's folder.
    public var resolved: String
    /// Where the entry is written.
    public var mark: SourceMark

    public init(file: String, target: String, resolved: String, mark: SourceMark) {
        self.file = file
        self.target = target
        self.resolved = resolved
        self.mark = mark
    }
}

/// An error while loading a recipe: unreadable or malformed YAML, a missing
/// base, a cycle of bases, a misplaced tag, a bad `--set`.
///
/// `chain` lists the `base:` entries that led to the failing file, outermost
/// first, so a cycle prints as
///
/// ```text
/// b.yaml:2:7: error: base cycle: a.yaml -> b.yaml -> a.yaml
///   a.yaml:1:7: base: b.yaml
///   b.yaml:2:7: base: a.yaml
/// ```
public struct RecipeError: UserFacingError, Equatable {
    public var mark: SourceMark?
    public var message: String
    public var chain: [BaseReference]

    public init(mark: SourceMark?, message: String, chain: [BaseReference] = []) {
        self.mark = mark
        self.message = message
        self.chain = chain
    }

    init(_ error: YAMLError, chain: [BaseReference]) {
        self.init(mark: error.mark, message: error.message, chain: chain)
    }

    public var what: String { message }
    public var location: ErrorLocation? { mark.map { .source($0) } }
    /// The `base:` entries that led here, one line each.
    public var details: [String] { chain.map { "  \($0.mark): base: \($0.target)" } }
}
