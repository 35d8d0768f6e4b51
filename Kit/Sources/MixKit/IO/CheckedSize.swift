import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Overflow-safe sizes for shapes and byte ranges read from files.
///
/// Every size that comes from a file goes through these functions: an
/// overflow is a clear error about the file, not Swift's overflow trap (which
/// stops the process) nor, in an `-Ounchecked` build, a wrapped size.
///
/// ```swift
/// CheckedSize.elementCount([1 << 40, 1 << 40])        // nil: more than Int.max elements
/// CheckedSize.byteCount([3, 4], elementSize: 8)       // 96
/// ```
public enum CheckedSize {
    /// The product of `shape`, or nil when a dimension is negative or the product overflows.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        // A zero dimension makes any product of the rest fit, but the other
        // dimensions must still be valid on their own.
        return n
    }

    /// The bytes of `shape` elements of `elementSize` bytes, or nil when it overflows.
    public static func byteCount(_ shape: [Int], elementSize: Int) -> Int? {
        guard let n = elementCount(shape) else { return nil }
        return multiply(n, elementSize)
    }

    /// `a * b` or nil on overflow.
    public static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : p
    }

    /// `a + b` or nil on overflow.
    public static func add(_ a: Int, _ b: Int) -> Int? {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : s
    }

    /// True when `offset..<offset+length` lies inside `0..<total` (all non-negative, no overflow).
    public static func rangeFits(offset: Int, length: Int, in total: Int) -> Bool {
        guard offset >= 0, length >= 0, let end = add(offset, length) else { return false }
        return end <= total
    }

    /// The element count of a shape built by the SDK itself: a negative or
    /// overflowing shape here is a programming error and stops the process
    /// with the shape in the message (checked in every build, `-Ounchecked` too).
    static func elementCountOrFail(_ shape: [Int]) -> Int {
        guard let n = elementCount(shape) else {
            fatalError("Tensor: shape \(shape) has a negative dimension or more than \(Int.max) elements")
        }
        return n
    }
}

/// A tensor the system cannot hold: says how much it needs and how much there is.
public struct TensorAllocationError: Error, CustomStringConvertible {
    /// The shape asked for, when known.
    public var shape: [Int]?
    /// The bytes asked for, nil when the count overflows.
    public var bytes: Int?

    init(shape: [Int]?, count: Int) {
        self.shape = shape
        self.bytes = CheckedSize.multiply(count, MemoryLayout<Float>.stride)
    }

    init(shape: [Int], bytes: Int?) {
        self.shape = shape
        self.bytes = bytes
    }

    public var description: String {
        let what = shape.map { "a float32 tensor of shape \($0)" } ?? "a float32 buffer"
        let need = bytes.map { ByteCount.describe($0) } ?? "more than \(Int.max) bytes"
        var text = "cannot allocate \(what): it needs \(need)"
        if let available = SystemMemory.availableBytes() {
            text += " and the system has \(ByteCount.describe(available)) available"
        }
        return text + "; use a smaller size (batch, image size, model) or a machine with more memory"
    }
}

extension Tensor {
    /// A new tensor with undefined contents, or an error that says how much
    /// memory it needs when the shape is invalid or the system refuses it.
    /// Readers of files use this instead of the trapping initialisers.
    ///
    /// ```swift
    /// let t = try Tensor.allocate(shape: [8, 1024, 1024])  // 32 MiB
    /// ```
    public static func allocate(shape: [Int]) throws -> Tensor {
        guard let n = CheckedSize.elementCount(shape), let bytes = CheckedSize.multiply(n, 4) else {
            throw TensorAllocationError(shape: shape, bytes: nil)
        }
        guard let storage = TensorStorage(tryingCount: n) else {
            throw TensorAllocationError(shape: shape, bytes: bytes)
        }
        return Tensor(shape: shape, storage: storage)
    }
}

/// What the machine has, for allocation errors and default read limits.
public enum SystemMemory {
    /// Physical memory in bytes.
    public static var physicalBytes: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max }
        return CheckedSize.multiply(pages, size) ?? Int.max
    }

    /// `MemAvailable` of /proc/meminfo in bytes, when the kernel reports it.
    public static func availableBytes() -> Int? {
        guard let data = try? RegularFile.read("/proc/meminfo", maxBytes: 1 << 20, what: "meminfo"),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
            return CheckedSize.multiply(kib, 1024)
        }
        return nil
    }
}
