import CKernels

/// The shape two shapes broadcast to, NumPy rules (aligned on the right);
/// stops with a message naming both when they do not broadcast.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
    guard let shape = broadcastShapeIfCompatible(a, b) else {
        fatalError("shapes \(a) and \(b) do not broadcast (dimensions aligned on the right must be equal or 1)")
    }
    return shape
}

/// The shape two shapes broadcast to, or nil when they do not.
public func broadcastShapeIfCompatible(_ a: [Int], _ b: [Int]) -> [Int]? {
    if a == b { return a }
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else { return nil }
        out[i] = da == 1 ? db : da
    }
    return out
}

extension OpContext {
    /// Stops unless `a` and `b` broadcast together (NumPy rules).
    @inline(__always)
    public func requireBroadcastable(_ a: Tensor, _ b: Tensor, file: StaticString = #fileID, line: UInt = #line) {
        if _slowPath(a.shape != b.shape && broadcastShapeIfCompatible(a.shape, b.shape) == nil) {
            fail("shapes \(a.shape) and \(b.shape) do not broadcast", file: file, line: line)
        }
    }
}

/// Row-major strides of a contiguous shape.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}

/// Strides that read a tensor of `shape` broadcast to `target` (0 on broadcast dims).
func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let own = contiguousStrides(shape)
    let lead = target.count - shape.count
    return (0..<target.count).map { i in
        i < lead || shape[i - lead] == 1 ? 0 : own[i - lead]
    }
}

/// An iteration plan over an output shape for inputs read with given strides:
/// dimensions that stay contiguous for every input are merged, and the
/// innermost run is handed to a kernel with per-input strides of 0 or 1.
struct BroadcastPlan {
    var outerShape: [Int]
    var outerStrides: [[Int]]
    var inner: Int
    var innerStrides: [Int]

    init(shape: [Int], strides: [[Int]]) {
        var dims: [Int] = []
        var strs: [[Int]] = Array(repeating: [], count: strides.count)
        for i in 0..<shape.count where shape[i] != 1 {
            if let last = dims.last,
                (0..<strides.count).allSatisfy({ strs[$0].last! == strides[$0][i] * shape[i] })
            {
                dims[dims.count - 1] = last * shape[i]
                for k in 0..<strides.count { strs[k][strs[k].count - 1] = strides[k][i] }
            } else {
                dims.append(shape[i])
                for k in 0..<strides.count { strs[k].append(strides[k][i]) }
            }
        }
        if dims.isEmpty {
            dims = [1]
            for k in 0..<strides.count { strs[k] = [0] }
        }
        // The innermost run must have input strides of 0 or 1 for the kernels;
        // otherwise iterate it one element at a time.
        if strs.allSatisfy({ $0.last! == 0 || $0.last! == 1 }) {
            inner = dims.removeLast()
            innerStrides = strs.map { $0.last! }
            outerStrides = strs.map { Array($0.dropLast()) }
        } else {
            inner = 1
            innerStrides = Array(repeating: 0, count: strides.count)
            outerStrides = strs
        }
        outerShape = dims
    }

    var outerCount: Int { outerShape.reduce(1, *) }

    /// Calls `body(offsets, n)` for outer indices in `lo..<hi`, where offsets are
    /// each input's element offset of the run start.
    func forEachRun(from lo: Int, to hi: Int, _ body: ([Int], Int) -> Void) {
        let rank = outerShape.count
        if rank == 0 {
            if lo < hi { body(Array(repeating: 0, count: outerStrides.count), inner) }
            return
        }
        var index = [Int](repeating: 0, count: rank)
        var rem = lo
        for d in stride(from: rank - 1, through: 0, by: -1) {
            index[d] = rem % outerShape[d]
            rem /= outerShape[d]
        }
        var offsets = (0..<outerStrides.count).map { k in
            (0..<rank).reduce(0) { $0 + index[$1] * outerStrides[k][$1] }
        }
        for _ in lo..<hi {
            body(offsets, inner)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                for k in 0..<offsets.count { offsets[k] += outerStrides[k][d] }
                if index[d] < outerShape[d] { break }
                for k in 0..<offsets.count { offsets[k] -= outerStrides[k][d] * outerShape[d] }
                index[d] = 0
                d -= 1
            }
        }
    }
}
