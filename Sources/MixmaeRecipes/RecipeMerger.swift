import MixmaeSupport

/// The tags a recipe may use.
public enum RecipeTag {
    /// `key: !delete` removes `key` and everything under it from what the
    /// recipe inherits (from its bases, or from the files when used in `--set`).
    public static let delete = "!delete"
    /// `key: !replace {…}` makes a mapping replace the inherited one instead
    /// of merging into it key by key.
    public static let replace = "!replace"
}

/// Layers recipe trees: mappings merge key by key, everything else replaces.
///
/// A `!delete` value is kept in the merged tree as a tombstone, so that
/// layering stays associative (`(A + B) + C` equals `A + (B + C)`), and is
/// removed by ``finalize(_:)``; a tombstone that never removed anything is an
/// error there, since it is most likely a misspelt key.
struct RecipeMerger {
    /// Marks of `!delete` nodes that removed an inherited value.
    private var appliedDeletions: Set<SourceMark> = []

    /// `upper` layered over `lower`.
    mutating func merge(_ lower: YAMLNode?, _ upper: YAMLNode) -> YAMLNode {
        if upper.tag == RecipeTag.delete {
            if let lower, !Self.isTombstone(lower) || appliedDeletions.contains(lower.mark) {
                appliedDeletions.insert(upper.mark)
            }
            return upper
        }
        guard let lower, case .mapping(let upperMapping) = upper.content,
            upper.tag != RecipeTag.replace
        else { return upper }
        if Self.isTombstone(lower) {
            // Everything below was deleted: nothing further down may merge in.
            var replacing = upper
            replacing.tag = RecipeTag.replace
            return replacing
        }
        guard case .mapping(var merged) = lower.content else { return upper }
        for entry in upperMapping.entries {
            let value = merge(merged[entry.key], entry.value)
            merged.set(.init(key: entry.key, keyMark: entry.keyMark, value: value))
        }
        // Keep a `!replace` from a lower layer: it still cuts off what lies beneath.
        return YAMLNode(.mapping(merged), mark: upper.mark, tag: lower.tag)
    }

    /// Removes tombstones and `!replace` tags; nil if `node` itself is a tombstone.
    /// Throws for a `!delete` that removed nothing.
    func finalize(_ node: YAMLNode, path: RecipePath = .root) throws -> YAMLNode? {
        if Self.isTombstone(node) {
            guard appliedDeletions.contains(node.mark) else {
                throw RecipeError(
                    mark: node.mark,
                    message: "'\(path): !delete' removes nothing: '\(path)' is not set "
                        + "by anything this recipe inherits; check the key's spelling or remove the line")
            }
            return nil
        }
        var result = node
        result.tag = nil
        switch node.content {
        case .mapping(let mapping):
            var kept = YAMLMapping()
            for entry in mapping.entries {
                if let value = try finalize(entry.value, path: path.appending(entry.key)) {
                    kept.set(.init(key: entry.key, keyMark: entry.keyMark, value: value))
                }
            }
            result.content = .mapping(kept)
        case .sequence(let items):
            result.content = .sequence(
                try items.enumerated().map { i, item in
                    try finalize(item, path: path.appending(index: i)) ?? item
                })
        default:
            break
        }
        return result
    }

    static func isTombstone(_ node: YAMLNode) -> Bool {
        node.tag == RecipeTag.delete
    }

    /// Checks where tags are used: `!delete` only as an empty mapping value,
    /// `!replace` only on a mapping, no other tags.
    static func checkTags(_ node: YAMLNode, isMappingValue: Bool = false) throws {
        if let tag = node.tag {
            switch tag {
            case RecipeTag.delete:
                guard isMappingValue else {
                    throw RecipeError(
                        mark: node.mark,
                        message: "!delete removes a key and must be a mapping value "
                            + "('decoder: !delete'); it cannot stand here")
                }
                guard node.isNull else {
                    throw RecipeError(
                        mark: node.mark,
                        message: "!delete takes no value (found \(node.kindDescription)); "
                            + "write 'key: !delete', or '!replace' to swap a mapping for another")
                }
            case RecipeTag.replace:
                guard node.mapping != nil else {
                    throw RecipeError(
                        mark: node.mark,
                        message: "!replace applies to a mapping ('backbone: !replace {name: pvt}'); "
                            + "lists and scalars always replace, so it is not needed on "
                            + node.kindDescription)
                }
            default:
                let shown = tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst(18) : tag
                throw RecipeError(
                    mark: node.mark,
                    message: "unknown tag '\(shown)': recipes know only !delete and !replace"
                        + (shown == "!!str" ? "; quote the value to make it a string" : ""))
            }
        }
        switch node.content {
        case .mapping(let mapping):
            for entry in mapping.entries { try checkTags(entry.value, isMappingValue: true) }
        case .sequence(let items):
            for item in items { try checkTags(item) }
        default:
            break
        }
    }
}
