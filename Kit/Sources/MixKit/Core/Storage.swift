import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A reference-counted float32 buffer that tensors share.
///
/// Buffers come from `BufferPool`: training repeats the same shapes every
/// step, so a freed buffer of a given size is kept and handed to the next
/// request of exactly that size. That avoids page faults on fresh memory,
/// which otherwise cost a large share of a step.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// A buffer of `count` floats with undefined contents.
    init(uninitializedCount count: Int) {
        self.count = count
        self.pointer = BufferPool.shared.take(count)
    }

    /// A buffer of `count` floats with undefined contents, or nil when the
    /// system cannot provide it (see ``Tensor/allocate(shape:)``).
    init?(tryingCount count: Int) {
        guard let pointer = BufferPool.shared.tryTake(count) else { return nil }
        self.count = count
        self.pointer = pointer
    }

    /// A buffer of `count` zeros.
    convenience init(zeroedCount count: Int) {
        self.init(uninitializedCount: count)
        if count > 0 { pointer.update(repeating: 0, count: count) }
    }

    deinit { BufferPool.shared.give(pointer, count) }
}

/// Exact-size recycling of float buffers, bounded by a byte budget.
///
/// The budget is `MIXMAE_POOL_MB` megabytes (default 4096). Buffers larger
/// than the budget, or beyond it, go back to the system.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedBytes = 0
    private let budgetBytes: Int
    private let lock = NSLock()

    init() {
        let mb = ProcessInfo.processInfo.environment["MIXMAE_POOL_MB"].flatMap(Int.init) ?? 4096
        budgetBytes = max(0, mb) << 20
    }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let p = tryTake(count) { return p }
        fatalError(TensorAllocationError(shape: nil, count: count).description)
    }

    /// A cached buffer of `count` floats, else a new one from the system, else nil.
    func tryTake(_ count: Int) -> UnsafeMutablePointer<Float>? {
        let n = max(count, 1)
        lock.lock()
        if var list = free[n], let p = list.popLast() {
            free[n] = list
            cachedBytes -= n * 4
            lock.unlock()
            return p
        }
        lock.unlock()
        let (bytes, overflow) = n.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, let raw = malloc(bytes) else { return nil }
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        let n = max(count, 1)
        lock.lock()
        if cachedBytes + n * 4 <= budgetBytes {
            free[n, default: []].append(pointer)
            cachedBytes += n * 4
            lock.unlock()
            return
        }
        lock.unlock()
        Glibc.free(pointer)
    }

    /// Returns every cached buffer to the system.
    func trim() {
        lock.lock()
        let lists = free
        free = [:]
        cachedBytes = 0
        lock.unlock()
        for (_, list) in lists { for p in list { Glibc.free(p) } }
    }
}
