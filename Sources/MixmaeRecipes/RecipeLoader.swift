import Foundation

/// Loads a recipe file with its bases and `--set` overrides into a ``ResolvedRecipe``.
///
/// The format:
/// - A recipe is a YAML mapping. `base:` names one file or a list of files,
///   relative to the recipe's folder. Bases are resolved the same way
///   (recursively), layered in list order, and the recipe's own keys go on top.
/// - Layering: mappings merge key by key; lists and scalars replace.
///   `key: !delete` removes an inherited key and its subtree;
///   `key: !replace {…}` replaces an inherited mapping instead of merging into it.
/// - `base` itself is not part of the resolved recipe.
/// - Overrides (``RecipeOverride``, from `--set a.b=VALUE`) apply in order after
///   all files are merged, with the same rules.
/// - Missing bases and cycles are errors that print the chain of `base:` entries.
///
/// ```swift
/// let recipe = try RecipeLoader().load(
///     "recipes/pretrain/swin-tiny.yaml",
///     overrides: RecipeOverride.parse(["optim.base_lr=1e-3"]))
/// print(recipe.yaml(provenance: true))
/// ```
public struct RecipeLoader {
    public init() {}

    public func load(_ path: String, overrides: [RecipeOverride] = []) throws -> ResolvedRecipe {
        try load(path, text: nil, overrides: overrides)
    }

    /// Loads a recipe from `text` (for example a resolved recipe stored with a
    /// run), as if it were the file `path`: marks name `path`, and any `base:`
    /// is relative to its folder.
    ///
    /// ```swift
    /// let rerun = try RecipeLoader().load(text: storedYAML, as: "run-12/recipe.yaml")
    /// ```
    public func load(text: String, as path: String, overrides: [RecipeOverride] = []) throws
        -> ResolvedRecipe
    {
        try load(path, text: text, overrides: overrides)
    }

    private func load(_ path: String, text: String?, overrides: [RecipeOverride]) throws -> ResolvedRecipe {
        var session = LoadSession()
        let layered = try session.resolve(path, via: nil, text: text)
        guard var root = try session.merger.finalize(layered) else {
            throw RecipeError(mark: layered.mark, message: "a recipe cannot delete itself")
        }
        for override in overrides {
            root = try session.apply(override, to: root)
        }
        return ResolvedRecipe(path: path, root: root, files: session.files, overrides: overrides)
    }
}

/// The state of one `load`: the stack of files being resolved (for cycles),
/// the files seen, and the merger's record of deletions.
private struct LoadSession {
    struct Frame {
        var canonical: String
        var display: String
    }

    var stack: [Frame] = []
    var chain: [BaseReference] = []
    var files: [String] = []
    var merger = RecipeMerger()
    /// The layered tree of each file already resolved, by canonical path: a
    /// file reached again through another `base:` chain (a diamond) is read
    /// and resolved once, so loading is linear in the number of distinct files.
    var resolved: [String: YAMLNode] = [:]

    /// The layered tree of `display` and its bases (may hold tombstones).
    mutating func resolve(_ display: String, via reference: BaseReference?, text: String? = nil) throws
        -> YAMLNode
    {
        if let reference { chain.append(reference) }
        defer { if reference != nil { chain.removeLast() } }

        guard let canonical = text != nil ? Self.canonicalPath(ofUnsaved: display) : Self.canonicalPath(display)
        else {
            if let reference {
                throw RecipeError(
                    mark: reference.mark,
                    message: "base '\(reference.target)' not found: no file at '\(display)' "
                        + "(base paths are relative to the folder of \(reference.file))"
                        + (chain.count > 1 ? "; reached through \(chainText())" : ""),
                    chain: chain)
            }
            throw RecipeError(mark: nil, message: "recipe '\(display)' not found")
        }
        if stack.contains(where: { $0.canonical == canonical }) {
            throw RecipeError(
                mark: reference?.mark, message: "base cycle: \(chainText())", chain: chain)
        }
        if text == nil, let known = resolved[canonical] { return known }

        var root: YAMLNode
        do {
            root = try text.map { try YAMLParser.parse($0, file: display) } ?? YAMLParser.parse(file: display)
            try RecipeMerger.checkTags(root)
        } catch let error as YAMLError {
            throw RecipeError(error, chain: chain)
        } catch var error as RecipeError {
            error.chain = chain
            throw error
        }
        if root.isNull { root = YAMLNode(.mapping(YAMLMapping()), mark: root.mark) }
        guard case .mapping(var mapping) = root.content else {
            throw RecipeError(
                mark: root.mark,
                message: "a recipe is a mapping of sections (data:, optim:, model:, ...); "
                    + "found \(root.kindDescription)",
                chain: chain)
        }
        let bases = try baseReferences(mapping.remove("base"), in: display)
        root.content = .mapping(mapping)

        stack.append(Frame(canonical: canonical, display: display))
        var layered: YAMLNode?
        for base in bases {
            let tree = try resolve(base.resolved, via: base)
            layered = layered.map { merger.merge($0, tree) } ?? tree
        }
        stack.removeLast()

        if !files.contains(display) { files.append(display) }
        let tree = layered.map { merger.merge($0, root) } ?? root
        if text == nil { resolved[canonical] = tree }
        return tree
    }

    private func chainText() -> String {
        guard let first = chain.first else { return "" }
        return ([first.file] + chain.map(\.resolved)).joined(separator: " -> ")
    }

    private func baseReferences(_ entry: YAMLMapping.Entry?, in file: String) throws
        -> [BaseReference]
    {
        guard let entry else { return [] }
        let items = entry.value.sequence ?? [entry.value]
        return try items.map { item in
            guard case .scalar(let scalar) = item.content, case .string(let target) = scalar.value
            else {
                throw RecipeError(
                    mark: item.mark,
                    message: "'base' takes a path or a list of paths to recipe files; "
                        + "found \(item.kindDescription)",
                    chain: chain)
            }
            return BaseReference(
                file: file, target: target, resolved: Self.relativePath(target, from: file),
                mark: item.mark)
        }
    }

    mutating func apply(_ override: RecipeOverride, to root: YAMLNode) throws -> YAMLNode {
        try set(override, keyIndex: 0, in: root)
    }

    private mutating func set(_ override: RecipeOverride, keyIndex: Int, in node: YAMLNode) throws
        -> YAMLNode
    {
        guard case .mapping(var mapping) = node.content else {
            let prefix = RecipePath(override.keys.prefix(keyIndex).map { .key($0) })
            throw RecipeError(
                mark: override.mark,
                message: "cannot set '\(override.path)': '\(prefix)' is \(node.kindDescription) "
                    + "(set at \(node.mark)), not a mapping; to replace it, set '\(prefix)' itself, "
                    + "e.g. --set '\(prefix)={\(override.keys[keyIndex]): ...}'")
        }
        let key = override.keys[keyIndex]
        let existing = mapping.entry(key)
        let keyMark = existing?.keyMark ?? override.mark
        if keyIndex + 1 < override.keys.count {
            let child = existing?.value ?? YAMLNode(.mapping(YAMLMapping()), mark: override.mark)
            let updated = try set(override, keyIndex: keyIndex + 1, in: child)
            mapping.set(.init(key: key, keyMark: keyMark, value: updated))
        } else if RecipeMerger.isTombstone(override.value) {
            guard mapping.remove(key) != nil else {
                throw RecipeError(
                    mark: override.mark,
                    message: "'\(override.path)' is not set, so there is nothing to delete")
            }
        } else {
            let merged = merger.merge(existing?.value, override.value)
            if let value = try merger.finalize(merged, path: override.path) {
                mapping.set(.init(key: key, keyMark: keyMark, value: value))
            }
        }
        var result = node
        result.content = .mapping(mapping)
        return result
    }

    /// The real path of an existing regular file, for cycle detection.
    static func canonicalPath(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
            !isDirectory.boolValue
        else { return nil }
        return URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    /// The absolute, normalized form of a path that need not exist (a recipe given as text).
    static func canonicalPath(ofUnsaved path: String) -> String {
        normalized(path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
    }

    /// `target` relative to the folder of `file`, with `.` and `..` folded
    /// where they can be (`recipes/pretrain/../base/a.yaml` gives `recipes/base/a.yaml`).
    static func relativePath(_ target: String, from file: String) -> String {
        if target.hasPrefix("/") { return normalized(target) }
        let folder = (file as NSString).deletingLastPathComponent
        return normalized(folder.isEmpty ? target : folder + "/" + target)
    }

    static func normalized(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !absolute {
                    parts.append(part)
                }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
