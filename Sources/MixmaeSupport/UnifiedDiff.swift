import Foundation

/// A line diff in the unified format of `diff -u`.
///
/// ```swift
/// let text = UnifiedDiff.make(old: recipeA, new: recipeB, oldLabel: "run 3", newLabel: "run 7")
/// // --- run 3
/// // +++ run 7
/// // @@ -4,7 +4,7 @@
/// //  optim:
/// // -  lr: 1.5e-4
/// // +  lr: 3.0e-4
/// ```
public enum UnifiedDiff {
    /// One line of the edit script.
    enum Operation: Equatable {
        case equal(String)
        case delete(String)
        case insert(String)
    }

    /// The unified diff of two texts with `context` lines around each change; "" when the
    /// texts have the same lines.
    public static func make(
        old: String, new: String, oldLabel: String, newLabel: String, context: Int = 3
    ) -> String {
        let oldLines = lines(of: old)
        let newLines = lines(of: new)
        let script = operations(oldLines, newLines)
        guard script.contains(where: { if case .equal = $0 { return false } else { return true } }) else {
            return ""
        }
        var out = ["--- \(oldLabel)", "+++ \(newLabel)"]
        // Positions (old line, new line) before each operation.
        var positions: [(Int, Int)] = []
        var oldLine = 0
        var newLine = 0
        for operation in script {
            positions.append((oldLine, newLine))
            switch operation {
            case .equal:
                oldLine += 1
                newLine += 1
            case .delete: oldLine += 1
            case .insert: newLine += 1
            }
        }
        let changed = script.indices.filter { if case .equal = script[$0] { return false } else { return true } }
        var hunkStart = 0
        while hunkStart < changed.count {
            var hunkEnd = hunkStart
            while hunkEnd + 1 < changed.count && changed[hunkEnd + 1] - changed[hunkEnd] <= 2 * context + 1 {
                hunkEnd += 1
            }
            let first = max(0, changed[hunkStart] - context)
            let last = min(script.count - 1, changed[hunkEnd] + context)
            var oldCount = 0
            var newCount = 0
            var body: [String] = []
            for operation in script[first...last] {
                switch operation {
                case .equal(let line):
                    body.append(" " + line)
                    oldCount += 1
                    newCount += 1
                case .delete(let line):
                    body.append("-" + line)
                    oldCount += 1
                case .insert(let line):
                    body.append("+" + line)
                    newCount += 1
                }
            }
            let (oldStart, newStart) = positions[first]
            out.append(
                "@@ -\(range(start: oldStart, count: oldCount)) +\(range(start: newStart, count: newCount)) @@")
            out.append(contentsOf: body)
            hunkStart = hunkEnd + 1
        }
        return out.joined(separator: "\n") + "\n"
    }

    private static func range(start: Int, count: Int) -> String {
        // diff -u numbers lines from 1; an empty range names the line before it.
        count == 0 ? "\(start),0" : count == 1 ? "\(start + 1)" : "\(start + 1),\(count)"
    }

    private static func lines(of text: String) -> [String] {
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// A shortest edit script by longest common subsequence, after trimming the common
    /// prefix and suffix.
    static func operations(_ a: [String], _ b: [String]) -> [Operation] {
        var prefix = 0
        while prefix < a.count && prefix < b.count && a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix && suffix < b.count - prefix
            && a[a.count - 1 - suffix] == b[b.count - 1 - suffix]
        {
            suffix += 1
        }
        let middleA = Array(a[prefix..<(a.count - suffix)])
        let middleB = Array(b[prefix..<(b.count - suffix)])
        var script = a[0..<prefix].map { Operation.equal($0) }
        script += middleOperations(middleA, middleB)
        script += a[(a.count - suffix)...].map { Operation.equal($0) }
        return script
    }

    private static func middleOperations(_ a: [String], _ b: [String]) -> [Operation] {
        let n = a.count
        let m = b.count
        // Beyond a few million cells, report the middle as replaced rather than use the memory.
        guard n > 0, m > 0, n * m <= 16_000_000 else {
            return a.map { .delete($0) } + b.map { .insert($0) }
        }
        // lcs[i][j]: length of the LCS of a[i...] and b[j...], row-major in one buffer.
        var lcs = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i * (m + 1) + j] =
                    a[i] == b[j]
                    ? lcs[(i + 1) * (m + 1) + j + 1] + 1
                    : max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1])
            }
        }
        var script: [Operation] = []
        var i = 0
        var j = 0
        while i < n && j < m {
            if a[i] == b[j] {
                script.append(.equal(a[i]))
                i += 1
                j += 1
            } else if lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1] {
                script.append(.delete(a[i]))
                i += 1
            } else {
                script.append(.insert(b[j]))
                j += 1
            }
        }
        script += a[i...].map { .delete($0) }
        script += b[j...].map { .insert($0) }
        return script
    }
}
