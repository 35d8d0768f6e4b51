import Foundation
import Synchronization

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
    /// How many ``Tensor`` objects read this buffer (the tensor it was made for and its views).
    let tensors = Atomic<Int>(0)

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
///
/// Buffers of ``hugePageBytes`` or more start on a huge-page boundary and ask
/// the kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`, which
/// works when `/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or
/// `always`). A step's GEMMs then miss the TLB far less on activations they
/// read cold: small128 finetuning steps ran 5-8% faster. `MIXMAE_HUGE_PAGES=0`
/// keeps ordinary pages.
final class BufferPool: @unchecked Sendable {
    static let shared = BufferPool()

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var cachedBytes = 0
    private let budgetBytes: Int
    private let lock = NSLock()
    private let usesHugePages: Bool

    /// The size of an x86-64 huge page, and the smallest buffer that asks for them.
    static let hugePageBytes = 2 << 20

    init() {
        let environment = ProcessInfo.processInfo.environment
        let mb = environment["MIXMAE_POOL_MB"].flatMap(Int.init) ?? 4096
        budgetBytes = max(0, mb) << 20
        usesHugePages = environment["MIXMAE_HUGE_PAGES"] != "0"
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
        guard !overflow, let raw = usesHugePages && bytes >= Self.hugePageBytes ? hugePageAligned(bytes) : malloc(bytes)
        else { return nil }
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    /// `bytes` on a huge-page boundary, its whole huge pages marked for transparent huge pages; `free`
    /// releases it. The tail past the last whole huge page keeps ordinary pages, so no memory is added to the
    /// buffer. Where the kernel has no huge pages the advice is ignored.
    private func hugePageAligned(_ bytes: Int) -> UnsafeMutableRawPointer? {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, Self.hugePageBytes, bytes) == 0, let raw else { return nil }
        #if os(Linux)
            _ = madvise(raw, bytes & ~(Self.hugePageBytes - 1), MADV_HUGEPAGE)
        #endif
        return raw
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
