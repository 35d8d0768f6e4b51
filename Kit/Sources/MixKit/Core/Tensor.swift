import CBLAS
import CKernels
import Foundation

/// An N-dimensional float32 array in row-major order, with reverse-mode autograd.
///
/// Tensors have reference semantics, like PyTorch's: operations return new
/// tensors and record how they were made when any input needs a gradient,
/// so that ``backward(_:)`` can walk the graph back. Views made by
/// ``reshaped(_:)`` and ``slice(axis:_:)`` along the first axis share the
/// storage of their source; every other operation writes a new buffer.
///
/// ```swift
/// let w = Tensor.randomNormal([3, 2], std: 0.02, using: &rng).asParameter()
/// let x = Tensor([[1, 2, 3]])
/// let loss = matmul(x, w).square().mean()
/// loss.backward()
/// print(w.grad!.shape)  // [3, 2]
/// ```
public final class Tensor: CustomStringConvertible {
    /// The size of each dimension.
    public let shape: [Int]
    /// The buffer this tensor reads, possibly shared with views.
    public let storage: TensorStorage
    /// Where this tensor's first element sits in ``storage``.
    public let offset: Int
    /// The number of elements.
    public let count: Int

    /// True for a trainable leaf (a parameter): ``backward(_:)`` accumulates into ``grad``.
    public var requiresGrad: Bool = false
    /// The accumulated gradient of a parameter, or nil before the first backward pass.
    public var grad: Tensor?
    /// A name used in error messages and state dicts, when the tensor has one.
    public var name: String?

    /// How this tensor was computed, when the graph is being recorded.
    var gradNode: GradNode?

    /// A tensor over `storage` starting at `offset`; the storage must hold the elements.
    init(shape: [Int], storage: TensorStorage, offset: Int = 0) {
        let n = CheckedSize.elementCountOrFail(shape)
        precondition(
            offset + n <= storage.count,
            "Tensor: shape \(shape) needs \(n) elements past offset \(offset), storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.count = n
        storage.tensors.add(1, ordering: .relaxed)
    }

    /// A new tensor with undefined contents (every element is written by the caller).
    init(uninitializedShape shape: [Int]) {
        let n = CheckedSize.elementCountOrFail(shape)
        self.shape = shape
        guard let storage = TensorStorage(tryingCount: n) else {
            fatalError(TensorAllocationError(shape: shape, count: n).description)
        }
        self.storage = storage
        self.offset = 0
        self.count = n
        storage.tensors.add(1, ordering: .relaxed)
    }

    deinit { storage.tensors.subtract(1, ordering: .releasing) }

    /// Whether this tensor is the only tensor over all of its storage (no view shares or covers part of it).
    /// With no other reference to the tensor itself, its buffer can change hands without a copy.
    var isSoleTensorOverItsStorage: Bool {
        offset == 0 && count == storage.count && storage.tensors.load(ordering: .acquiring) == 1
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    ///
    /// ```swift
    /// let t = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
    /// ```
    public convenience init(shape: [Int], scalars: [Float]) {
        let n = shape.reduce(1, *)
        precondition(n == scalars.count, "Tensor(shape: \(shape)) needs \(n) scalars, got \(scalars.count)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { src in
            if n > 0 { data.update(from: src.baseAddress!, count: n) }
        }
    }

    /// A 1-D tensor.
    public convenience init(_ scalars: [Float]) {
        self.init(shape: [scalars.count], scalars: scalars)
    }

    /// A 2-D tensor from rows of equal length.
    public convenience init(_ rows: [[Float]]) {
        let cols = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == cols }, "Tensor: rows have different lengths")
        self.init(shape: [rows.count, cols], scalars: rows.flatMap { $0 })
    }

    /// A 0-D (scalar) tensor.
    public convenience init(scalar: Float) {
        self.init(shape: [], scalars: [scalar])
    }

    /// The first element's address. Contiguous: element `i` is at `data[i]`.
    public var data: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single element of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item(): tensor of shape \(shape) has \(count) elements, not 1")
        return data[0]
    }

    /// The size of dimension `axis` (negative counts from the end).
    public func dim(_ axis: Int) -> Int { shape[normalizeAxis(axis)] }

    /// `axis` in 0..<rank, accepting negative axes.
    public func normalizeAxis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < Swift.max(rank, 1), "axis \(axis) is out of range for a tensor of shape \(shape)")
        return a
    }

    /// True when ``backward(_:)`` must reach this tensor: a parameter or a result of one.
    public var needsGrad: Bool { requiresGrad || gradNode != nil }

    /// Marks this tensor as a trainable leaf and returns it.
    @discardableResult
    public func asParameter(named name: String? = nil) -> Tensor {
        requiresGrad = true
        if let name { self.name = name }
        return self
    }

    /// A copy that shares nothing with this tensor and is not part of any graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let (src, dst) = (UnsafePointer(data), t.data)
        Parallel.forRanges(count, work: count / 4) { lo, hi in (dst + lo).update(from: src + lo, count: hi - lo) }
        return t
    }

    /// This tensor's values, cut from the graph (a view of the same storage).
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage, offset: offset)
    }

    /// Overwrites this tensor's elements with `other`'s (same element count), in place.
    ///
    /// Used to load weights into parameters without breaking optimizer references.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: shape \(other.shape) does not fit \(shape)")
        if count > 0 { data.update(from: other.data, count: count) }
    }

    /// Sets every element to `value`, in place.
    public func fill(_ value: Float) {
        let p = data
        Parallel.forRanges(count, work: count / 4) { lo, hi in (p + lo).update(repeating: value, count: hi - lo) }
    }

    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", ..." : "")])"
    }
}

// MARK: - Creation

extension Tensor {
    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.fill(0)
        return t
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }

    /// A tensor with every element `value`.
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.fill(value)
        return t
    }

    /// `[start, start + step, ...]` below `end`, as a 1-D tensor.
    ///
    /// ```swift
    /// Tensor.arange(0, 5)  // [0, 1, 2, 3, 4]
    /// ```
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must not be 0")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        let t = Tensor(uninitializedShape: [n])
        for i in 0..<n { t.data[i] = start + Float(i) * step }
        return t
    }

    /// Normally distributed values from the seeded generator.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, std: Float = 1, using rng: inout RandomGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = mean + std * rng.nextNormal() }
        return t
    }

    /// Uniform values in `[low, high)` from the seeded generator.
    public static func randomUniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, using rng: inout RandomGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.data[i] = low + (high - low) * rng.nextUniform() }
        return t
    }

    /// Normal values with the given mean and std, redrawn until inside `[low, high]`
    /// (absolute bounds, as timm's `trunc_normal_` takes them).
    public static func truncatedNormal(
        _ shape: [Int], mean: Float = 0, std: Float = 1, low: Float = -2, high: Float = 2,
        using rng: inout RandomGenerator
    ) -> Tensor {
        precondition(low < high, "truncatedNormal: low \(low) must be below high \(high)")
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count {
            var v: Float
            repeat { v = mean + std * rng.nextNormal() } while v < low || v > high
            t.data[i] = v
        }
        return t
    }
}
