import MixmaeSupport

/// A recipe after its bases are merged and its overrides applied.
///
/// Every node keeps the mark of the file position or `--set` argument that
/// set it, so ``provenance`` and error messages can say where a value came from.
///
/// ```swift
/// let recipe = try RecipeLoader().load("recipes/pretrain/swin-tiny.yaml")
/// recipe.root["optim"]?["base_lr"]?.scalar?.value  // .float(0.00015)
/// recipe.origin(of: "optim.base_lr")               // recipes/base/pretrain.yaml:22:12
/// recipe.hash                                      // "3f5c…" (64 hex digits)
/// ```
public struct ResolvedRecipe: Sendable {
    /// The recipe file that was loaded.
    public var path: String
    /// The resolved tree, always a mapping, without `base`.
    public var root: YAMLNode
    /// Every file that went into it, each once, bases before the files that name them.
    public var files: [String]
    /// The overrides applied, in order.
    public var overrides: [RecipeOverride]

    public init(path: String, root: YAMLNode, files: [String], overrides: [RecipeOverride]) {
        self.path = path
        self.root = root
        self.files = files
        self.overrides = overrides
    }

    /// The node at a path, or nil.
    public func node(at path: RecipePath) -> YAMLNode? {
        root.node(at: path)
    }

    /// Which file position or `--set` set the value at `path`.
    public func origin(of path: RecipePath) -> SourceMark? {
        root.node(at: path)?.mark
    }

    /// One line per leaf value (scalar, null, list, empty mapping), in
    /// document order: its path and the mark of the file position or `--set`
    /// argument that set it.
    public var provenance: [(path: RecipePath, mark: SourceMark)] {
        var result: [(path: RecipePath, mark: SourceMark)] = []
        func visit(_ node: YAMLNode, _ path: RecipePath) {
            if case .mapping(let mapping) = node.content, !mapping.isEmpty {
                for entry in mapping.entries { visit(entry.value, path.appending(entry.key)) }
            } else {
                result.append((path, node.mark))
            }
        }
        visit(root, .root)
        return result
    }

    /// The resolved recipe as YAML; with `provenance`, each leaf carries a
    /// trailing comment naming where it was set.
    public func yaml(provenance: Bool = false) -> String {
        YAMLWriter.string(root, provenance: provenance)
    }

    /// The canonical text of the values (see ``RecipeCanonicalForm``).
    public var canonicalText: String {
        RecipeCanonicalForm.text(of: root)
    }

    /// SHA-256 of ``canonicalText``, as 64 lowercase hex digits: equal for two
    /// recipes with the same values, whatever their files, key order or notation.
    public var hash: String {
        RecipeCanonicalForm.hash(of: root)
    }

    /// An ordering of marks for reports: files in the order they were merged
    /// (``files``), then `--set` arguments, then by line and column.
    public func precedes(_ a: SourceMark, _ b: SourceMark) -> Bool {
        func rank(_ mark: SourceMark) -> (Int, Int, String) {
            switch mark.origin {
            case .file(let path):
                return (0, files.firstIndex(of: path) ?? files.count, path)
            case .override(let index, _):
                return (1, index, "")
            }
        }
        let (ra, rb) = (rank(a), rank(b))
        if ra != rb { return ra < rb }
        return (a.line, a.column) < (b.line, b.column)
    }

    /// `issues` in file order (``precedes(_:_:)``); issues at one place keep their order.
    public func inFileOrder(_ issues: [RecipeIssue]) -> [RecipeIssue] {
        issues.enumerated()
            .sorted { a, b in
                if precedes(a.element.mark, b.element.mark) { return true }
                if precedes(b.element.mark, a.element.mark) { return false }
                return a.offset < b.offset
            }
            .map(\.element)
    }
}
