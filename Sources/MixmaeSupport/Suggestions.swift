/// "Did you mean" suggestions by edit distance.
///
/// ```swift
/// Suggestions.closest(to: "embed_dims", among: ["embed_dim", "depths"])  // ["embed_dim"]
/// ```
public enum Suggestions {
    /// The candidates within a small edit distance of `name` (case-insensitive),
    /// closest first. The distance allowed grows with the name: 1 for names up
    /// to 5 characters, 2 up to 8, then a third of the length. A candidate that
    /// is a prefix of the name or starts with it (`optim` for `optimizer`)
    /// also counts, after the close ones, if the shorter of the two has at least
    /// 3 characters.
    public static func closest(to name: String, among candidates: [String]) -> [String] {
        let limit = max(1, name.count / 3)
        let lowered = name.lowercased()
        let scored = candidates.compactMap { candidate -> (String, Int)? in
            let other = candidate.lowercased()
            let d = distance(lowered, other)
            if d <= limit { return (candidate, d) }
            let (short, long) = lowered.count < other.count ? (lowered, other) : (other, lowered)
            if short.count >= 3 && long.hasPrefix(short) { return (candidate, limit + 1) }
            return nil
        }
        return scored.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.map(\.0)
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    public static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d = min(d, previousPrevious[j - 2] + 1)
                }
                current[j] = d
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[b.count]
    }

    /// ` did you mean 'a' or 'b'?` or an empty string.
    package static func didYouMean(_ names: [String]) -> String {
        switch names.count {
        case 0: return ""
        case 1: return "; did you mean '\(names[0])'?"
        default:
            let quoted = names.map { "'\($0)'" }
            return "; did you mean " + quoted.dropLast().joined(separator: ", ") + " or "
                + quoted.last! + "?"
        }
    }
}
