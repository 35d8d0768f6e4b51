import Foundation

/// A plain-text table with columns separated by two spaces, left-aligned unless listed in
/// `rightAligned` (numbers).
///
/// ```swift
/// var table = TextTable(["ID", "KIND"])
/// table.append(["swin", "backbone"])
/// print(table.rendered(indent: 2))
/// ```
package struct TextTable {
    /// The first line, or nil for a table without one.
    package var header: [String]?
    package var rows: [[String]] = []
    /// Indices of the columns padded on the left.
    package var rightAligned: Set<Int>

    package init(_ header: [String]? = nil, rightAligned: Set<Int> = []) {
        self.header = header
        self.rightAligned = rightAligned
    }

    package mutating func append(_ row: [String]) {
        rows.append(row)
    }

    /// The table as lines; the last column is never padded.
    package func rendered(indent: Int = 0) -> String {
        let all = (header.map { [$0] } ?? []) + rows
        let columns = all.map(\.count).max() ?? 0
        let widths = (0..<columns).map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        let margin = String(repeating: " ", count: indent)
        return all.map { row in
            let cells = row.enumerated().map { i, cell in
                if rightAligned.contains(i) {
                    return String(repeating: " ", count: widths[i] - cell.count) + cell
                }
                return i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }
            return margin + cells.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
