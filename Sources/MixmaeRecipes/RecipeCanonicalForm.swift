import MixmaeSupport

/// The canonical serialization of a recipe tree, for hashing.
///
/// Compact JSON-like text: mapping keys sorted by their UTF-8 bytes, scalars
/// by their typed value (`1e-3` and `0.001` both give `0.001`; an int never
/// looks like a float, since a float always has a `.`, an `e`, or is
/// `.inf`/`-.inf`/`.nan`), strings quoted with JSON escapes. Marks, key order,
/// quoting style and comments do not take part.
///
/// ```swift
/// RecipeCanonicalForm.text(of: root)  // {"optim":{"base_lr":0.00015,"betas":[0.9,0.95]}}
/// RecipeCanonicalForm.hash(of: root)  // SHA-256 of that text, hex
/// ```
public enum RecipeCanonicalForm {
    public static func text(of node: YAMLNode) -> String {
        var out = ""
        write(node, into: &out)
        return out
    }

    public static func hash(of node: YAMLNode) -> String {
        var sha = SHA256()
        sha.update(Array(text(of: node).utf8))
        return sha.finalize()
    }

    private static func write(_ node: YAMLNode, into out: inout String) {
        switch node.content {
        case .null:
            out += "null"
        case .scalar(let scalar):
            switch scalar.value {
            case .bool(let v): out += v ? "true" : "false"
            case .int(let v): out += String(v)
            case .float(let v): out += floatText(v)
            case .string(let v): out += quoted(v)
            }
        case .sequence(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .mapping(let mapping):
            out += "{"
            let sorted = mapping.entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (i, entry) in sorted.enumerated() {
                if i > 0 { out += "," }
                out += quoted(entry.key) + ":"
                write(entry.value, into: &out)
            }
            out += "}"
        }
    }

    private static func floatText(_ v: Double) -> String {
        if v.isNaN { return ".nan" }
        if v.isInfinite { return v < 0 ? "-.inf" : ".inf" }
        return v.description
    }

    private static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
