import CKernels

/// Axes normalised, sorted and unique; an empty list means every axis.
func normalizedAxes(_ axes: [Int]?, rank: Int, op: OpContext) -> [Int] {
    guard let axes, !axes.isEmpty else { return Array(0..<rank) }
    let norm = axes.map { a -> Int in
        let n = a < 0 ? a + rank : a
        op.require(n >= 0 && n < rank, "axis \(a) is out of range")
        return n
    }
    return Array(Set(norm)).sorted()
}

/// The shape after reducing `axes` (kept as 1 with `keepDims`).
func reducedShape(_ shape: [Int], axes: [Int], keepDims: Bool) -> [Int] {
    var out: [Int] = []
    for (i, d) in shape.enumerated() {
        if axes.contains(i) {
            if keepDims { out.append(1) }
        } else {
            out.append(d)
        }
    }
    return out
}

/// Sums over `axes` (sorted, unique), keeping them as size 1, without recording.
func reduceSumKernel(_ x: Tensor, axes: [Int]) -> Tensor {
    let keptShape = reducedShape(x.shape, axes: axes, keepDims: true)
    if axes.isEmpty { return x.reshapedView(keptShape) }
    let isBlock = axes.last! - axes.first! + 1 == axes.count
    guard isBlock else {
        // Move the reduced axes to the end, then reduce one contiguous block.
        let kept = (0..<x.rank).filter { !axes.contains($0) }
        let moved = permuteKernel(x, kept + axes)
        let r = reduceSumKernel(moved, axes: Array(kept.count..<x.rank))
        return r.reshapedView(keptShape)
    }
    let outer = x.shape[..<axes.first!].reduce(1, *)
    let reduce = axes.map { x.shape[$0] }.reduce(1, *)
    let inner = x.shape[(axes.last! + 1)...].reduce(1, *)
    let out = Tensor.zeros(keptShape)
    let px = x.data
    let po = out.data
    if inner == 1 {
        Parallel.forRanges(outer, work: x.count) { lo, hi in
            mk_row_sum(px + lo * reduce, hi - lo, reduce, po + lo)
        }
    } else if outer >= Parallel.threadCount {
        Parallel.forRanges(outer, work: x.count) { lo, hi in
            for o in lo..<hi {
                mk_col_sum_accumulate(px + o * reduce * inner, reduce, inner, po + o * inner)
            }
        }
    } else {
        // Few outer slices: split the reduced rows and add the partial sums.
        let chunks = x.count >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, reduce) : 1
        let partial = PartialSums(parts: chunks, columns: outer * inner)
        Parallel.forRanges(chunks, work: x.count) { lo, hi in
            for c in lo..<hi {
                let r0 = reduce * c / chunks
                let r1 = reduce * (c + 1) / chunks
                for o in 0..<outer {
                    mk_col_sum_accumulate(
                        px + (o * reduce + r0) * inner, r1 - r0, inner, partial.row(c) + o * inner)
                }
            }
        }
        partial.withRows {
            for c in 0..<chunks { mk_accumulate(partial.row(c), 1, po, outer * inner) }
        }
    }
    return out
}

extension Tensor {
    /// The sum over `axes` (all axes when nil).
    ///
    /// ```swift
    /// x.sum()                             // shape []
    /// x.sum(axes: [-1], keepDims: true)   // [B, N, 1]
    /// ```
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        defineOp("sum", self) { op in
            let ax = normalizedAxes(axes, rank: rank, op: op)
            let r = reduceSumKernel(self, axes: ax)
            let out = r.reshapedView(reducedShape(shape, axes: ax, keepDims: keepDims))
            return OpResult(out) { g in [g.reshapedView(r.shape).expandedKernel(self.shape)] }
        }
    }

    /// The mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        defineOp("mean", self) { op in
            let ax = normalizedAxes(axes, rank: rank, op: op)
            let n = ax.map { shape[$0] }.reduce(1, *)
            return OpResult(sum(axes: ax, keepDims: keepDims) * (1 / Float(Swift.max(n, 1))))
        }
    }

    /// The variance over `axes`: unbiased (divides by n - 1) unless `unbiased` is false.
    public func variance(axes: [Int]? = nil, unbiased: Bool = true, keepDims: Bool = false) -> Tensor {
        defineOp("variance", self) { op in
            let ax = normalizedAxes(axes, rank: rank, op: op)
            let n = ax.map { shape[$0] }.reduce(1, *)
            let centered = self - mean(axes: ax, keepDims: true)
            let ss = centered.square().sum(axes: ax, keepDims: keepDims)
            return OpResult(ss * (1 / Float(Swift.max(unbiased ? n - 1 : n, 1))))
        }
    }

    /// The maximum over one axis; the gradient goes to the first maximal element.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        defineOp("max", self) { op in
            op.require(axis >= -rank && axis < rank, "axis \(axis) is out of range")
            let a = normalizeAxis(axis)
            op.require(shape[a] > 0, "axis \(a) is empty")
            let moved = a == rank - 1 ? self : permuteKernel(self, (0..<rank).filter { $0 != a } + [a])
            let cols = shape[a]
            let rows = count / Swift.max(cols, 1)
            let values = Tensor(uninitializedShape: [rows])
            var argmax = [Int32](repeating: 0, count: rows)
            argmax.withUnsafeMutableBufferPointer { mk_row_max(moved.data, rows, cols, values.data, $0.baseAddress) }
            let out = values.reshapedView(reducedShape(shape, axes: [a], keepDims: keepDims))
            return OpResult(out) { g in
                let gm = Tensor.zeros([rows, cols])
                for r in 0..<rows { gm.data[r * cols + Int(argmax[r])] = g.data[r] }
                if a == self.rank - 1 { return [gm.reshapedView(self.shape)] }
                var movedShape = self.shape
                movedShape.remove(at: a)
                movedShape.append(cols)
                var inverse = Array(0..<(self.rank - 1))
                inverse.insert(self.rank - 1, at: a)
                return [permuteKernel(gm.reshapedView(movedShape), inverse)]
            }
        }
    }

    /// The largest element, as a Swift value (no graph).
    public func maxValue() -> Float {
        var m = -Float.infinity
        for i in 0..<count { m = Swift.max(m, data[i]) }
        return m
    }
}
