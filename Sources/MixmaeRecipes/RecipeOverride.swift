import MixmaeSupport

/// One `--set KEY=VALUE` argument, parsed.
///
/// `KEY` is a dot-separated path (`optim.base_lr`); missing mappings along it
/// are created. `VALUE` is read as YAML: a scalar (`1e-3`, `true`, `swin`,
/// `"quoted string"`), a flow list (`[2,2,6,2]`) or a flow mapping
/// (`{name: swin, embed_dim: 96}`), or empty for null. A mapping merges into
/// the mapping it lands on (as a recipe layer does); `!replace {…}` replaces
/// it, and `!delete` removes the key.
///
/// ```swift
/// let overrides = try RecipeOverride.parse(["optim.base_lr=1e-3", "model.backbone.depths=[2,2,18,2]"])
/// ```
public struct RecipeOverride: Sendable {
    /// 1-based position among the `--set` arguments.
    public var index: Int
    /// The argument as given (`optim.base_lr=1e-3`).
    public var argument: String
    /// The keys of the path (`["optim", "base_lr"]`).
    public var keys: [String]
    /// The parsed value, its marks pointing into the argument.
    public var value: YAMLNode

    public var path: RecipePath { RecipePath(keys.map { .key($0) }) }

    /// Where the key starts: the whole argument.
    public var mark: SourceMark {
        SourceMark(origin: .override(index: index, argument: argument), line: 1, column: 1)
    }

    /// Parses `argument` (`KEY=VALUE`), the `index`-th (1-based) `--set`.
    public init(_ argument: String, index: Int) throws {
        self.index = index
        self.argument = argument
        let origin = SourceMark.Origin.override(index: index, argument: argument)
        let at = SourceMark(origin: origin, line: 1, column: 1)
        guard let equals = argument.firstIndex(of: "=") else {
            throw RecipeError(
                mark: at,
                message: "--set expects KEY=VALUE (e.g. --set optim.base_lr=1e-3); found no '='")
        }
        let key = argument[..<equals]
        let text = String(argument[argument.index(after: equals)...])
        keys = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if keys.contains(where: { $0.isEmpty || $0.contains(where: \.isWhitespace) }) {
            throw RecipeError(
                mark: at,
                message: "--set key '\(key)' is not a dot-separated path of names (e.g. optim.base_lr)")
        }
        let value: YAMLNode
        do {
            value = try YAMLParser.parse(
                bytes: Array(text.utf8), origin: origin, columnOffset: key.count + 1)
            try RecipeMerger.checkTags(value, isMappingValue: true)
        } catch let error as YAMLError {
            throw RecipeError(mark: error.mark, message: "in the value of --set: \(error.message)")
        }
        if value.mapping != nil || value.sequence != nil, !Self.isFlow(text) {
            throw RecipeError(
                mark: at,
                message: "the value of --set \(key) reads as a block YAML "
                    + (value.mapping != nil ? "mapping" : "list")
                    + "; write a flow value ([1, 2] or {a: 1}) or quote a string: --set '\(key)=\"\(text)\"'")
        }
        self.value = value
    }

    /// Parses each argument, numbering them from 1.
    public static func parse(_ arguments: [String]) throws -> [RecipeOverride] {
        try arguments.enumerated().map { try RecipeOverride($1, index: $0 + 1) }
    }

    /// Whether `text`, after an optional tag, starts a flow collection.
    private static func isFlow(_ text: String) -> Bool {
        var rest = text.drop(while: \.isWhitespace)
        if rest.first == "!" {
            rest = rest.drop(while: { !$0.isWhitespace }).drop(while: \.isWhitespace)
        }
        return rest.first == "[" || rest.first == "{"
    }
}
