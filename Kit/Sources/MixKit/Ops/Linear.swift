import CKernels

/// `x @ weightᵀ + bias` over the last axis of `x`, as PyTorch's `F.linear`
/// (weight is `[out, in]`). The bias is added as the GEMM writes its output (no separate pass).
///
/// ```swift
/// let y = linear(x, weight: w, bias: b)   // x [B, N, in] -> [B, N, out]
/// ```
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    defineOp("linear", x, weight, bias) { op in
        let inFeatures = x.shape.last ?? 0
        op.require(
            weight.rank == 2 && weight.shape[1] == inFeatures,
            "weight \(weight.shape) does not fit input \(x.shape) (expects [out, \(inFeatures)])")
        let outFeatures = weight.shape[0]
        if let bias { op.requireShape(bias, [outFeatures], "bias") }
        let rows = x.count / Swift.max(inFeatures, 1)
        let y = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
        Profiler.countGEMM(m: rows, n: outFeatures, k: inFeatures)
        sgemm(
            x.data, weight.data, y.data, m: rows, n: outFeatures, k: inFeatures, transposeA: false, transposeB: true,
            bias: bias.map { UnsafePointer($0.data) })
        return OpResult(y) { g in
            // The input and weight gradients share no data: they run at the same time (``gemmConcurrently``).
            var products: [GEMMProduct] = []
            let gx = x.needsGrad ? Tensor(uninitializedShape: x.shape) : nil
            if let gx {
                Profiler.countGEMM(m: rows, n: inFeatures, k: outFeatures)
                products.append(
                    GEMMProduct(
                        g.data, weight.data, gx.data, m: rows, n: inFeatures, k: outFeatures, transposeA: false,
                        transposeB: false))
            }
            let gw = weight.needsGrad ? Tensor(uninitializedShape: weight.shape) : nil
            if let gw {
                Profiler.countGEMM(m: outFeatures, n: inFeatures, k: rows)
                products.append(
                    GEMMProduct(
                        g.data, x.data, gw.data, m: outFeatures, n: inFeatures, k: rows, transposeA: true,
                        transposeB: false))
            }
            // The bias gradient (column sums of g, memory-bound) fills the time a thread would otherwise wait for
            // the other's product.
            let sums = bias?.needsGrad == true ? ColumnSums(g.data, rows: rows, columns: outFeatures) : nil
            gemmConcurrently(products, sideParts: sums?.parts ?? 0) { sums?.addPart($0) }
            return [gx, gw, sums?.total()]
        }
    }
}

/// The column sums of a row-major `rows` x `columns` matrix, in ``parts`` independent blocks of rows (each into its
/// own row of partial sums) that may run on any thread in any order, then added in a fixed order: the result does
/// not depend on which thread ran what.
///
/// ```swift
/// let sums = ColumnSums(g.data, rows: 4096, columns: 256)
/// Parallel.forEachPart(sums.parts) { sums.addPart($0) }
/// let biasGradient = sums.total()   // [256]
/// ```
struct ColumnSums {
    /// Rows per block (256 KiB of a 64-column g, 1 MiB of a 256-column one): small enough for a thread that
    /// finishes its product early to take a few.
    static let rowsPerPart = 1024

    let source: UnsafePointer<Float>
    let rows: Int
    let columns: Int
    let parts: Int
    private let partial: Tensor

    init(_ source: UnsafePointer<Float>, rows: Int, columns: Int) {
        self.source = source
        self.rows = rows
        self.columns = columns
        parts = Swift.max(1, (rows + Self.rowsPerPart - 1) / Self.rowsPerPart)
        partial = Tensor.zeros([parts, columns])
    }

    /// Adds block `part`'s rows into its row of partial sums.
    func addPart(_ part: Int) {
        let lo = rows * part / parts
        let hi = rows * (part + 1) / parts
        mk_col_sum_accumulate(source + lo * columns, hi - lo, columns, partial.data + part * columns)
    }

    /// The sums `[columns]`, once every part has run.
    func total() -> Tensor {
        parts == 1 ? partial.reshapedView([columns]) : reduceSumKernel(partial, axes: [0]).reshapedView([columns])
    }
}
