import Foundation

/// Produces items 0..<count in order, on `workers` threads at most `prefetch`
/// items each ahead of the consumer; with no workers, on the consumer's thread.
///
/// Every loader (classification, detection, segmentation) prepares its batches
/// through this type, so the order never depends on thread timing: item `k` is
/// always `produce(k)`, whichever thread made it.
///
/// ```swift
/// let batches = PrefetchingIterator(count: 10, workers: 2, prefetch: 2) { k in try makeBatch(k) }
/// while let batch = try batches.next() { ... }
/// ```
public final class PrefetchingIterator<Item> {
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var ready: [Int: Result<Item, Error>] = [:]
        var nextToProduce = 0
        var nextToConsume = 0
        var cancelled = false
    }

    private let shared = Shared()
    private let count: Int
    private let workers: Int
    private let produce: (Int) throws -> Item

    public init(count: Int, workers: Int, prefetch: Int, produce: @escaping (Int) throws -> Item) {
        self.count = count
        self.workers = workers
        self.produce = produce
        guard workers > 0 else { return }
        let shared = self.shared
        let ahead = max(1, prefetch) * workers
        for _ in 0..<workers {
            let thread = Thread {
                while true {
                    shared.condition.lock()
                    while !shared.cancelled && shared.nextToProduce < count
                        && shared.nextToProduce - shared.nextToConsume >= ahead
                    {
                        shared.condition.wait()
                    }
                    if shared.cancelled || shared.nextToProduce >= count {
                        shared.condition.unlock()
                        return
                    }
                    let k = shared.nextToProduce
                    shared.nextToProduce += 1
                    shared.condition.unlock()
                    let result = Result { try produce(k) }
                    shared.condition.lock()
                    shared.ready[k] = result
                    shared.condition.broadcast()
                    shared.condition.unlock()
                }
            }
            thread.name = "mixmae-data"
            thread.start()
        }
    }

    deinit {
        shared.condition.lock()
        shared.cancelled = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// The next item, nil after the last; rethrows the error of an item that failed.
    public func next() throws -> Item? {
        if workers == 0 {
            guard shared.nextToConsume < count else { return nil }
            shared.nextToConsume += 1
            return try produce(shared.nextToConsume - 1)
        }
        shared.condition.lock()
        defer { shared.condition.unlock() }
        guard shared.nextToConsume < count else { return nil }
        while shared.ready[shared.nextToConsume] == nil { shared.condition.wait() }
        let result = shared.ready.removeValue(forKey: shared.nextToConsume)!
        shared.nextToConsume += 1
        shared.condition.broadcast()
        return try result.get()
    }
}

extension PrefetchingIterator: BatchIterator where Item == Batch {}

/// A ``BatchIterator`` over another iterator's items turned into training-loop batches.
final class MappedBatchIterator<Item>: BatchIterator {
    private let base: PrefetchingIterator<Item>
    private let transform: (Item) -> Batch

    init(_ base: PrefetchingIterator<Item>, transform: @escaping (Item) -> Batch) {
        self.base = base
        self.transform = transform
    }

    func next() throws -> Batch? { try base.next().map(transform) }
}
