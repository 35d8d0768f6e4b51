/// Swin's relative-position bias for square windows whose tokens may come in any
/// order, `[P, heads, N, N]` for `P` window positions of `N = window²` tokens:
/// for position `p`, head `h` and its `i`-th and `j`-th tokens (at places `q`
/// and `k` of the window, row-major), `table[r, h]`, where `r` is the pair's row
/// of the table, `(qy - ky + window - 1) (2 window - 1) + qx - kx + window - 1`
/// (the reference's `relative_position_index`).
///
/// `table` is `[(2 window - 1)², heads]` (the reference's
/// `relative_position_bias_table`); `order` is `[P * N]`, position after position,
/// the place in the window of each position's `t`-th token (nil: one position in
/// row-major order). The op reads the table at offsets computed from the places,
/// instead of a gather through an index of `P * heads * N * N` entries rebuilt for
/// every new order; its backward adds every pair's gradient into its row of the table.
///
/// ```swift
/// let bias = relativePositionBias(table: table, window: 7)              // [1, heads, 49, 49]
/// let (order, spans) = AttentionSpans.sortingWindows(groups: ids, tokens: 49)
/// let sorted = relativePositionBias(table: table, window: 7, order: order)   // [P, heads, 49, 49]
/// ```
public func relativePositionBias(table: Tensor, window: Int, order: [Int]? = nil) -> Tensor {
    defineOp("relative_position_bias", table) { op in
        let side = 2 * window - 1
        op.require(
            window > 0 && table.rank == 2 && table.shape[0] == side * side,
            "table must be [(2 * \(window) - 1)^2, heads] = [\(side * side), heads] for windows of \(window), got \(table.shape)"
        )
        let (rows, heads, n) = (side * side, table.shape[1], window * window)
        let places = order ?? Array(0..<n)
        op.require(
            !places.isEmpty && places.count % n == 0,
            "order has \(places.count) places, not whole windows of \(n) tokens; pass one place per token")
        let outside = places.first { $0 < 0 || $0 >= n }
        op.require(
            outside == nil, "order has place \(outside ?? 0), outside 0..<\(n) of a window of \(window)x\(window)")
        let layout = BiasOffsets(places: places, window: window)
        let positions = places.count / n
        let units = positions * heads
        let out = Tensor(uninitializedShape: [positions, heads, n, n])
        let headMajor = permuteKernel(table, [1, 0])
        let (po, pt) = (out.data, UnsafePointer(headMajor.data))
        layout.withOffsets { query, key in
            Parallel.forRanges(units, work: units * n * n) { lo, hi in
                for unit in lo..<hi {
                    let (p, h) = (unit / heads, unit % heads)
                    let (column, q, k) = (pt + h * rows, query + p * n, key + p * n)
                    var o = po + unit * n * n
                    for i in 0..<n {
                        let base = column + Int(q[i])
                        for j in 0..<n { o[j] = base[-Int(k[j])] }
                        o += n
                    }
                }
            }
        }
        return OpResult(out) { gradient in
            let chunks = units * n * n >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, units) : 1
            let sums = PartialSums(parts: chunks, columns: heads * rows)
            let pg = UnsafePointer(gradient.data)
            layout.withOffsets { query, key in
                sums.withRows {
                    Parallel.forEachPart(chunks) { chunk in
                        let partial = sums.row(chunk)
                        for unit in (units * chunk / chunks)..<(units * (chunk + 1) / chunks) {
                            let (p, h) = (unit / heads, unit % heads)
                            let (column, q, k) = (partial + h * rows, query + p * n, key + p * n)
                            var g = pg + unit * n * n
                            for i in 0..<n {
                                let base = column + Int(q[i])
                                for j in 0..<n { base[-Int(k[j])] += g[j] }
                                g += n
                            }
                        }
                    }
                }
            }
            return [permuteKernel(sums.total().reshapedView([heads, rows]), [1, 0])]
        }
    }
}

/// Each token's offsets into a head's column of the table: the pair of query `q` and key `k` reads row
/// `query[q] - key[k]`, where `query = (y + w - 1)(2w - 1) + x + w - 1` and `key = y (2w - 1) + x` for the token's
/// place `(y, x)` in its window.
private struct BiasOffsets {
    let query: [Int32]
    let key: [Int32]

    init(places: [Int], window: Int) {
        let side = 2 * window - 1
        query = places.map { Int32(($0 / window + window - 1) * side + $0 % window + window - 1) }
        key = places.map { Int32($0 / window * side + $0 % window) }
    }

    func withOffsets<T>(_ body: (UnsafePointer<Int32>, UnsafePointer<Int32>) -> T) -> T {
        query.withUnsafeBufferPointer { q in key.withUnsafeBufferPointer { k in body(q.baseAddress!, k.baseAddress!) } }
    }
}
