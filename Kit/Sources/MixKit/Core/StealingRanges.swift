import Synchronization

/// Indices shared among threads that rebalance while they run: each part (one per thread) has a home, a range of
/// the indices, and takes blocks of `grain` from its front; a part whose home is empty takes blocks from the back
/// of the home with the most work left. Which thread runs an index then depends on how fast each ran, so use it
/// only where every index's result does not depend on the thread that computes it. The attention op's passes
/// share their (window, head) items and runs of windows this way, and ``GEMMPieces`` its products' pieces.
///
/// ```swift
/// let ranges = StealingRanges(count: 512, parts: 2, grain: 4)
/// Parallel.forEachPart(2) { part in
///     while let block = ranges.take(part: part) { for i in block { work(i, scratch: part) } }
/// }
/// ```
final class StealingRanges: Sendable {
    private let grain: Int
    /// Work of the indices before each index (one more entry than indices), or nil when every index is the same.
    private let workBefore: [Int]?
    private let left: Mutex<[Range<Int>]>

    /// `count` indices of equal work in `parts` homes of equal share, handed out `grain` at a time (at least 1).
    convenience init(count: Int, parts: Int, grain: Int) {
        precondition(parts > 0, "StealingRanges: at least one part")
        self.init(homes: (0..<parts).map { count * $0 / parts..<count * ($0 + 1) / parts }, grain: grain)
    }

    /// The indices of `homes` (consecutive ranges, one per part), handed out `grain` at a time; `work[i]` is index
    /// `i`'s work, which picks the home to take from (the count of indices left when nil).
    init(homes: [Range<Int>], grain: Int, work: [Int]? = nil) {
        self.grain = Swift.max(1, grain)
        workBefore = work.map { $0.reduce(into: [0]) { sums, work in sums.append(sums.last! + work) } }
        left = Mutex(homes)
    }

    /// The next block for `part`: from the front of its own home, else from the back of the first home with the
    /// most work left; nil when no home has work left.
    func take(part: Int) -> Range<Int>? {
        let (grain, workBefore) = (self.grain, self.workBefore)
        func workLeft(_ range: Range<Int>) -> Int {
            workBefore.map { $0[range.upperBound] - $0[range.lowerBound] } ?? range.count
        }
        return left.withLock { left -> Range<Int>? in
            let own = left[part]
            if !own.isEmpty {
                let end = Swift.min(own.upperBound, own.lowerBound + grain)
                left[part] = end..<own.upperBound
                return own.lowerBound..<end
            }
            guard let victim = left.indices.max(by: { workLeft(left[$0]) < workLeft(left[$1]) }),
                workLeft(left[victim]) > 0
            else { return nil }
            let range = left[victim]
            let start = Swift.max(range.lowerBound, range.upperBound - grain)
            left[victim] = range.lowerBound..<start
            return start..<range.upperBound
        }
    }
}
