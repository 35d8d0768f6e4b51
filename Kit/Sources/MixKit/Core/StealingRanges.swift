import Synchronization

/// Indices `0..<count` shared among threads that rebalance while they run: each part (one per thread) has a home,
/// an equal share of the indices, and takes blocks of `grain` from its front; a part whose home is empty takes
/// blocks from the back of the home with the most left. Which thread runs an index then depends on how fast each
/// ran, so use it only where every index's result does not depend on the thread that computes it.
///
/// ```swift
/// let ranges = StealingRanges(count: 512, parts: 2, grain: 4)
/// Parallel.forEachPart(2) { part in
///     while let block = ranges.take(part: part) { for i in block { work(i, scratch: part) } }
/// }
/// ```
final class StealingRanges: Sendable {
    private let grain: Int
    private let left: Mutex<[Range<Int>]>

    /// `count` indices in `parts` homes of equal share, handed out `grain` at a time (at least 1).
    init(count: Int, parts: Int, grain: Int) {
        precondition(parts > 0, "StealingRanges: at least one part")
        self.grain = Swift.max(1, grain)
        left = Mutex((0..<parts).map { count * $0 / parts..<count * ($0 + 1) / parts })
    }

    /// The next block for `part`: from the front of its own home, else from the back of the home with the most
    /// left; nil when every index has been taken.
    func take(part: Int) -> Range<Int>? {
        let grain = self.grain
        return left.withLock { left -> Range<Int>? in
            let own = left[part]
            if !own.isEmpty {
                let end = Swift.min(own.upperBound, own.lowerBound + grain)
                left[part] = end..<own.upperBound
                return own.lowerBound..<end
            }
            guard let victim = left.indices.max(by: { left[$0].count < left[$1].count }), !left[victim].isEmpty
            else { return nil }
            let range = left[victim]
            let start = Swift.max(range.lowerBound, range.upperBound - grain)
            left[victim] = range.lowerBound..<start
            return start..<range.upperBound
        }
    }
}
