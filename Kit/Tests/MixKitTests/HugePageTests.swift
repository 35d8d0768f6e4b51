import Foundation
import MixKit
import Testing

/// Tensor buffers of 2 MiB and more start on a huge-page boundary and are advised for
/// transparent huge pages.
@Suite struct HugePageTests {
    static let hugePageBytes = 2 << 20

    /// The `/proc/self/smaps` block of the mapping that holds `address`.
    func smapsBlock(containing address: UInt) throws -> String? {
        // procfs reports a size of 0, so the file is read to its end rather than by its size.
        let file = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? file.close() }
        let smaps = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
        var block: [Substring] = []
        var inside = false
        for line in smaps.split(separator: "\n") {
            let range = line.split(separator: " ", maxSplits: 1)[0].split(separator: "-")
            if range.count == 2, let lo = UInt(range[0], radix: 16), let hi = UInt(range[1], radix: 16) {
                if inside { break }
                inside = (lo..<hi).contains(address)
            }
            if inside { block.append(line) }
        }
        return block.isEmpty ? nil : block.joined(separator: "\n")
    }

    /// The kernel's transparent huge page mode: `always`, `madvise` or `never` (nil without THP).
    var transparentHugePageMode: String? {
        guard
            let text = try? String(
                contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8),
            let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]")
        else { return nil }
        return String(text[text.index(after: open)..<close])
    }

    @Test func largeBuffersStartOnAHugePageAndAreAdvisedForHugePages() throws {
        let large = Tensor.zeros([3, 1 << 19])
        let address = UInt(bitPattern: large.storage.pointer)
        #expect(address % UInt(Self.hugePageBytes) == 0, "\(String(address, radix: 16))")
        guard let mode = transparentHugePageMode, mode != "never" else { return }
        let block = try #require(try smapsBlock(containing: address))
        let eligible = block.split(separator: "\n").first { $0.hasPrefix("THPeligible:") }
        #expect(eligible?.split(separator: " ").last == "1", "\(block)")
    }
}
