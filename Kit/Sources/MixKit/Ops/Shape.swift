import CKernels

/// Copies `x` with its axes reordered, without recording.
func permuteKernel(_ x: Tensor, _ axes: [Int]) -> Tensor {
    precondition(
        axes.count == x.rank && Set(axes) == Set(0..<x.rank),
        "permute: \(axes) is not a permutation of the axes of a tensor of shape \(x.shape)")
    let outShape = axes.map { x.shape[$0] }
    if axes == Array(0..<x.rank) { return x.copy() }
    let src = contiguousStrides(x.shape)
    // Merge output axes that stay adjacent in the source.
    var shape: [Int] = []
    var strides: [Int] = []
    for (i, a) in axes.enumerated() where outShape[i] != 1 {
        if let lastStride = strides.last, lastStride == src[a] * x.shape[a] {
            shape[shape.count - 1] *= x.shape[a]
            strides[strides.count - 1] = src[a]
        } else {
            shape.append(x.shape[a])
            strides.append(src[a])
        }
    }
    let out = Tensor(uninitializedShape: outShape)
    if out.count == 0 { return out }
    if shape.isEmpty {
        out.data[0] = x.data[0]
        return out
    }
    let px = x.data
    let po = out.data
    let rank = shape.count
    let shape64 = shape.map { Int64($0) }
    let stride64 = strides.map { Int64($0) }
    let innerCount = shape[1...].reduce(1, *)
    Parallel.forRanges(shape[0], work: out.count) { lo, hi in
        var sub = shape64
        sub[0] = Int64(hi - lo)
        sub.withUnsafeBufferPointer { sp in
            stride64.withUnsafeBufferPointer { st in
                mk_strided_copy(px + lo * strides[0], sp.baseAddress, st.baseAddress, Int32(rank), po + lo * innerCount)
            }
        }
    }
    return out
}

extension Tensor {
    /// The same elements with another shape, sharing storage, not recorded.
    func reshapedView(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage, offset: offset)
    }

    /// The same elements with another shape (one dimension may be -1), sharing storage.
    ///
    /// ```swift
    /// x.reshaped([2, -1])
    /// ```
    public func reshaped(_ newShape: [Int]) -> Tensor {
        defineOp("reshape", self) { op in
            var resolved = newShape
            if let hole = newShape.firstIndex(of: -1) {
                let known = newShape.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
                op.require(known > 0 && count % known == 0, "cannot reshape \(count) elements to \(newShape)")
                resolved[hole] = count / known
            }
            op.require(
                resolved.allSatisfy { $0 >= 0 } && resolved.reduce(1, *) == count,
                "cannot reshape \(count) elements to \(newShape)")
            if resolved == shape { return OpResult(self) }
            return OpResult(reshapedView(resolved)) { g in [g.reshapedView(self.shape)] }
        }
    }

    /// The axes reordered: output axis `i` is input axis `axes[i]` (a copy).
    public func permuted(_ axes: [Int]) -> Tensor {
        defineOp("permute", self) { op in
            let norm = axes.map { $0 < 0 ? $0 + rank : $0 }
            op.require(
                norm.count == rank && Set(norm) == Set(0..<rank), "\(axes) is not a permutation of the \(rank) axes")
            var inverse = [Int](repeating: 0, count: norm.count)
            for (i, a) in norm.enumerated() { inverse[a] = i }
            return OpResult(permuteKernel(self, norm)) { g in [permuteKernel(g, inverse)] }
        }
    }

    /// Two axes swapped (a copy).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(normalizeAxis(a), normalizeAxis(b))
        return permuted(axes)
    }

    /// Elements `range` along `axis`. Along the first axis (or when every
    /// earlier axis has size 1) this is a view of the same storage.
    ///
    /// ```swift
    /// let q = qkv.slice(axis: 0, 0..<1)
    /// ```
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        defineOp("slice", self) { op in
            op.require(axis >= -rank && axis < rank, "axis \(axis) is out of range")
            let a = normalizeAxis(axis)
            op.require(
                range.lowerBound >= 0 && range.upperBound <= shape[a],
                "range \(range) is out of bounds for axis \(a) of size \(shape[a])")
            var outShape = shape
            outShape[a] = range.count
            let inner = shape[(a + 1)...].reduce(1, *)
            let outer = shape[..<a].reduce(1, *)
            let out: Tensor
            if outer == 1 {
                out = Tensor(shape: outShape, storage: storage, offset: offset + range.lowerBound * inner)
            } else {
                out = Tensor(uninitializedShape: outShape)
                let run = range.count * inner
                let px = data
                let po = out.data
                Parallel.forRanges(outer, work: out.count) { lo, hi in
                    for o in lo..<hi {
                        (po + o * run).update(from: px + (o * self.shape[a] + range.lowerBound) * inner, count: run)
                    }
                }
            }
            return OpResult(out) { g in
                let gx = Tensor.zeros(self.shape)
                let run = range.count * inner
                for o in 0..<outer {
                    (gx.data + (o * self.shape[a] + range.lowerBound) * inner).update(
                        from: g.data + o * run, count: run)
                }
                return [gx]
            }
        }
    }

    /// The tensor reversed along `axis` (a copy).
    public func flipped(axis: Int) -> Tensor {
        defineOp("flip", self) { op in
            op.require(axis >= -rank && axis < rank, "axis \(axis) is out of range")
            let a = normalizeAxis(axis)
            return OpResult(flipKernel(self, a)) { g in [flipKernel(g, a)] }
        }
    }

    /// The slices `indices` along `axis`, in that order (PyTorch's `index_select`).
    ///
    /// ```swift
    /// let bias = table.indexSelect(axis: 0, indices: relativeIndex)  // [N*N, heads]
    /// ```
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        defineOp("index_select", self) { op in
            op.require(axis >= -rank && axis < rank, "axis \(axis) is out of range")
            let a = normalizeAxis(axis)
            let size = shape[a]
            let bad = indices.first { $0 < 0 || $0 >= size }
            op.require(bad == nil, "index \(bad ?? 0) out of range 0..<\(size) on axis \(a)")
            return OpResult(indexSelectKernel(self, axis: a, indices: indices)) { g in
                // Added into the gradient this tensor already has (a residual connection's), when nothing else holds
                // it: no zeros for the slices not selected and no second pass to sum them.
                if self.needsGrad, let earlier = PendingGradients.takeForAccumulation(self) {
                    scatterSlices(g, axis: a, indices: indices, alpha: 1, onto: earlier, into: earlier)
                    return [earlier]
                }
                return [indexAddKernel(g, axis: a, indices: indices, size: size)]
            }
        }
    }

    /// The adjoint of ``indexSelect(axis:indices:)``: a tensor with `size` slices
    /// along `axis`, zeros except that slice `indices[k]` adds slice `k` of this one.
    public func indexScatterAdd(axis: Int, indices: [Int], size: Int) -> Tensor {
        defineOp("index_scatter_add", self) { op in
            op.require(axis >= -rank && axis < rank, "axis \(axis) is out of range")
            let a = normalizeAxis(axis)
            op.require(indices.count == shape[a], "\(indices.count) indices for axis \(a) of size \(shape[a])")
            for i in indices {
                op.require(i >= 0 && i < size, "index \(i) out of range 0..<\(size)")
            }
            return OpResult(indexAddKernel(self, axis: a, indices: indices, size: size)) { g in
                [indexSelectKernel(g, axis: a, indices: indices)]
            }
        }
    }

    /// This tensor with `alpha` times slice `k` of `source` added to its slice `indices[k]` along `axis`, repeated
    /// indices adding up (PyTorch's `index_add` with `alpha`). One op for what `self + alpha * source` scattered
    /// would take three for: a residual connection whose branch ran on some samples only.
    ///
    /// ```swift
    /// let y = x.indexAdd(axis: 0, indices: kept, source: branch(x.indexSelect(axis: 0, indices: kept)), alpha: 2)
    /// ```
    public func indexAdd(axis: Int, indices: [Int], source: Tensor, alpha: Float = 1) -> Tensor {
        defineOp("index_add", self, source) { op in
            op.require(axis >= -rank && axis < rank, "axis \(axis) is out of range")
            let a = normalizeAxis(axis)
            var expected = shape
            expected[a] = indices.count
            op.requireShape(source, expected, "source")
            let bad = indices.first { $0 < 0 || $0 >= shape[a] }
            op.require(bad == nil, "index \(bad ?? 0) out of range 0..<\(shape[a]) on axis \(a)")
            let out = Tensor(uninitializedShape: shape)
            scatterSlices(source, axis: a, indices: indices, alpha: alpha, onto: self, into: out)
            return OpResult(out) { g in
                [
                    self.needsGrad ? g : nil,
                    source.needsGrad ? indexSelectKernel(g, axis: a, indices: indices, scale: alpha) : nil,
                ]
            }
        }
    }
}

func flipKernel(_ x: Tensor, _ a: Int) -> Tensor {
    let out = Tensor(uninitializedShape: x.shape)
    let n = x.shape[a]
    let inner = x.shape[(a + 1)...].reduce(1, *)
    let outer = x.shape[..<a].reduce(1, *)
    for o in 0..<outer {
        for i in 0..<n {
            (out.data + (o * n + i) * inner).update(from: x.data + (o * n + (n - 1 - i)) * inner, count: inner)
        }
    }
    return out
}

/// The slices `indices` of `x` along axis `a`, times `scale`.
func indexSelectKernel(_ x: Tensor, axis a: Int, indices: [Int], scale: Float = 1) -> Tensor {
    var outShape = x.shape
    outShape[a] = indices.count
    let out = Tensor(uninitializedShape: outShape)
    let n = x.shape[a]
    let inner = x.shape[(a + 1)...].reduce(1, *)
    let outer = x.shape[..<a].reduce(1, *)
    let (px, po) = (UnsafePointer(x.data), out.data)
    indices.withUnsafeBufferPointer { index in
        Parallel.forRanges(index.count, work: outer * index.count * inner) { lo, hi in
            for o in 0..<outer {
                let (source, target) = (px + o * n * inner, po + o * index.count * inner)
                if inner == 1 {
                    // Single values (a bias table flattened head-major): a plain gather, no copy call per value.
                    for k in lo..<hi { target[k] = source[index[k]] * scale }
                    continue
                }
                for k in lo..<hi {
                    if scale == 1 {
                        (target + k * inner).update(from: source + index[k] * inner, count: inner)
                    } else {
                        mk_affine(source + index[k] * inner, scale, 0, target + k * inner, inner)
                    }
                }
            }
        }
    }
    return out
}

/// A tensor with `size` slices along axis `a`: zeros, plus slice `k` of `g` added to slice `indices[k]`.
func indexAddKernel(_ g: Tensor, axis a: Int, indices: [Int], size: Int) -> Tensor {
    var outShape = g.shape
    outShape[a] = size
    let out = Tensor(uninitializedShape: outShape)
    scatterSlices(g, axis: a, indices: indices, alpha: 1, onto: nil, into: out)
    return out
}

/// Writes into `out` (the shape of `base`, or of `source` with `indices`' axis widened) the slices of `base` (zeros
/// when nil) with `alpha` times slice `k` of `source` added to slice `indices[k]` along axis `a`. `out` may be
/// `base` itself (then the slices no index names are left as they are). Distinct indices (a window layout's order,
/// drop path's kept samples) write each slice once, on every thread, without zeros first; repeated ones add up in
/// order on one thread.
func scatterSlices(_ source: Tensor, axis a: Int, indices: [Int], alpha: Float, onto base: Tensor?, into out: Tensor) {
    let size = out.shape[a]
    let inner = source.shape[(a + 1)...].reduce(1, *)
    let outer = source.shape[..<a].reduce(1, *)
    let inPlace = base === out
    let (ps, po) = (UnsafePointer(source.data), out.data)
    let pb: UnsafePointer<Float>? = base.map { UnsafePointer($0.data) }
    if inner > 1, let distinct = DistinctIndices(indices, size: size) {
        distinct.positions.withUnsafeBufferPointer { position in
            Parallel.forRanges(outer * size, work: outer * size * inner) { lo, hi in
                for row in lo..<hi {
                    let (o, k) = (row / size, position[row % size])
                    let target = po + row * inner
                    guard k >= 0 else {
                        if let pb, !inPlace {
                            target.update(from: pb + row * inner, count: inner)
                        } else if pb == nil {
                            target.update(repeating: 0, count: inner)
                        }
                        continue
                    }
                    let slice = ps + (o * indices.count + k) * inner
                    if let pb {
                        mk_add_scaled(pb + row * inner, slice, alpha, target, inner)
                    } else if alpha == 1 {
                        target.update(from: slice, count: inner)
                    } else {
                        mk_affine(slice, alpha, 0, target, inner)
                    }
                }
            }
        }
        return
    }
    if let pb {
        if !inPlace { po.update(from: pb, count: out.count) }
    } else {
        po.update(repeating: 0, count: out.count)
    }
    indices.withUnsafeBufferPointer { index in
        for o in 0..<outer {
            let (slices, target) = (ps + o * index.count * inner, po + o * size * inner)
            if inner == 1 {
                for k in index.indices { target[index[k]] += alpha * slices[k] }
                continue
            }
            for k in index.indices {
                mk_add_scaled(target + index[k] * inner, slices + k * inner, alpha, target + index[k] * inner, inner)
            }
        }
    }
}

/// For indices that name each place of an axis of `size` at most once, where each place's slice comes from:
/// `positions[p]` is the position in `indices` of `p`, or -1 when no index names it. nil when an index repeats.
///
/// ```swift
/// DistinctIndices([2, 0], size: 3)?.positions   // [1, -1, 0]
/// DistinctIndices([0, 0, 1], size: 3)           // nil
/// ```
struct DistinctIndices {
    let positions: [Int]

    init?(_ indices: [Int], size: Int) {
        guard indices.count <= size else { return nil }
        var positions = [Int](repeating: -1, count: size)
        for (position, index) in indices.enumerated() {
            guard positions[index] < 0 else { return nil }
            positions[index] = position
        }
        self.positions = positions
    }
}

/// The tensors joined along `axis`; all other dimensions must match.
///
/// ```swift
/// let both = concatenate([x1, x2], axis: 0)
/// ```
public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    defineOp("concatenate", inputs: tensors) { op in
        op.require(!tensors.isEmpty, "no tensors")
        let first = tensors[0]
        op.require(axis >= -first.rank && axis < first.rank, "axis \(axis) is out of range")
        let a = first.normalizeAxis(axis)
        for t in tensors {
            op.require(
                t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                "shape \(t.shape) does not fit \(first.shape) along axis \(a)")
        }
        var outShape = first.shape
        outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
        let out = Tensor(uninitializedShape: outShape)
        let inner = first.shape[(a + 1)...].reduce(1, *)
        let outer = first.shape[..<a].reduce(1, *)
        let total = outShape[a]
        var start = 0
        var starts: [Int] = []
        for t in tensors {
            starts.append(start)
            let run = t.shape[a] * inner
            for o in 0..<outer {
                (out.data + (o * total + start) * inner).update(from: t.data + o * run, count: run)
            }
            start += t.shape[a]
        }
        return OpResult(out) { g in
            zip(tensors, starts).map { t, s in
                t.needsGrad ? withNoGrad { g.slice(axis: a, s..<(s + t.shape[a])).copy() } : nil
            }
        }
    }
}

/// The tensors stacked along a new first axis.
public func stack(_ tensors: [Tensor]) -> Tensor {
    concatenate(tensors.map { $0.reshaped([1] + $0.shape) }, axis: 0)
}
