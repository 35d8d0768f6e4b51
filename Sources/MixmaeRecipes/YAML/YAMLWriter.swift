import MixmaeSupport

/// Writes a ``YAMLNode`` tree back as block-style YAML that parses to an
/// equivalent tree (``YAMLNode/isEquivalent(to:)``).
///
/// Keys keep their order. Plain scalars keep their text (`1e-3` stays `1e-3`);
/// quoted scalars are written double-quoted. Lists of scalars are written in
/// flow style (`[2, 2, 6, 2]`). With `provenance`, each leaf line gets an
/// aligned trailing comment naming the node's mark:
///
/// ```yaml
/// optim:
///   base_lr: 0.00015    # recipes/base/pretrain.yaml:21:12
///   weight_decay: 0.1   # --set[1] optim.weight_decay=0.1
/// ```
///
/// ```swift
/// let text = YAMLWriter.string(recipe.root, provenance: true)
/// ```
public enum YAMLWriter {
    /// Comments start at the longest commented line plus this many spaces,
    /// but no further right than ``commentColumnLimit``.
    static let commentGap = 4
    static let commentColumnLimit = 64

    public static func string(_ node: YAMLNode, provenance: Bool = false) -> String {
        var lines: [Line] = []
        switch node.content {
        case .mapping(let m) where !m.isEmpty:
            writeMapping(m, indent: 0, into: &lines)
        case .sequence(let items) where !items.isEmpty && flowText(items) == nil:
            writeSequence(items, indent: 0, into: &lines)
        default:
            lines.append(Line(text: inlineText(node) ?? "null", mark: node.mark))
        }
        return render(lines, provenance: provenance)
    }

    private struct Line {
        var text: String
        var mark: SourceMark?
    }

    private static func render(_ lines: [Line], provenance: Bool) -> String {
        guard provenance else { return lines.map { $0.text + "\n" }.joined() }
        let widest = lines.filter { $0.mark != nil }.map(\.text.count).max() ?? 0
        let column = min(widest + commentGap, commentColumnLimit)
        return lines.map { line in
            guard let mark = line.mark else { return line.text + "\n" }
            let padding = max(column - line.text.count, 2)
            return line.text + String(repeating: " ", count: padding) + "# \(mark)\n"
        }.joined()
    }

    private static func writeMapping(_ mapping: YAMLMapping, indent: Int, into lines: inout [Line]) {
        let prefix = String(repeating: " ", count: indent)
        for entry in mapping.entries {
            let key = prefix + keyText(entry.key) + ":"
            if let inline = inlineText(entry.value) {
                lines.append(Line(text: key + " " + inline, mark: entry.value.mark))
            } else if case .mapping(let child) = entry.value.content {
                lines.append(Line(text: key))
                writeMapping(child, indent: indent + 2, into: &lines)
            } else if case .sequence(let items) = entry.value.content {
                lines.append(Line(text: key))
                writeSequence(items, indent: indent + 2, into: &lines)
            }
        }
    }

    private static func writeSequence(_ items: [YAMLNode], indent: Int, into lines: inout [Line]) {
        let prefix = String(repeating: " ", count: indent)
        for item in items {
            if let inline = inlineText(item) {
                lines.append(Line(text: prefix + "- " + inline, mark: item.mark))
                continue
            }
            var nested: [Line] = []
            switch item.content {
            case .mapping(let m): writeMapping(m, indent: indent + 2, into: &nested)
            case .sequence(let s): writeSequence(s, indent: indent + 2, into: &nested)
            default: break
            }
            // The first nested line starts at indent + 2: put the dash there.
            nested[0].text = prefix + "- " + nested[0].text.dropFirst(indent + 2)
            lines += nested
        }
    }

    /// The one-line text of a leaf (scalar, null, empty collection, list of
    /// flow-safe scalars), or nil for a node that needs block lines.
    private static func inlineText(_ node: YAMLNode) -> String? {
        switch node.content {
        case .null: return "null"
        case .scalar(let s): return scalarText(s, inFlow: false)
        case .mapping(let m): return m.isEmpty ? "{}" : nil
        case .sequence(let items): return flowText(items)
        }
    }

    private static func flowText(_ items: [YAMLNode]) -> String? {
        var parts: [String] = []
        for item in items {
            switch item.content {
            case .null: parts.append("null")
            case .scalar(let s):
                if s.isPlain && !isSafePlain(s.text, inFlow: true) { return nil }
                parts.append(scalarText(s, inFlow: true))
            default: return nil
            }
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }

    private static func scalarText(_ s: YAMLScalar, inFlow: Bool) -> String {
        if s.isPlain && isSafePlain(s.text, inFlow: inFlow) { return s.text }
        return doubleQuoted(s.text)
    }

    private static func keyText(_ key: String) -> String {
        if isSafePlain(key, inFlow: false) && !ScalarValue.isNull(plain: key) { return key }
        return doubleQuoted(key)
    }

    /// Whether `text` can be written as a plain scalar and read back as the same text.
    package static func isSafePlain(_ text: String, inFlow: Bool) -> Bool {
        guard let first = text.first, let last = text.last else { return false }
        if first == " " || last == " " || last == ":" { return false }
        if "[]{},#&*!|>'\"%@`".contains(first) { return false }
        if "-?:".contains(first) {
            let second = text.dropFirst().first
            if second == nil || second == " " { return false }
        }
        if text.contains(": ") || text.contains(" #") { return false }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return false
        }
        if inFlow && text.contains(where: { ",[]{}".contains($0) }) { return false }
        return true
    }

    package static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
