import CKernels

/// `x @ weightᵀ + bias` over the last axis of `x`, as PyTorch's `F.linear`
/// (weight is `[out, in]`). The bias is added as the GEMM writes its output (no separate pass).
///
/// ```swift
/// let y = linear(x, weight: w, bias: b)   // x [B, N, in] -> [B, N, out]
/// ```
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    linearOp(x, weight: weight, bias: bias, residual: nil)
}

/// `residual + x @ weightᵀ + bias`: a linear layer and the residual connection around the block it ends, as one op.
/// The residual is added to each block of the output as the GEMM completes it, while the block is in cache,
/// instead of in a pass of its own over the whole output; the result is bit for bit `residual + linear(x, ...)`.
/// The residual's gradient is the output's.
///
/// ```swift
/// let h = linear(attended, weight: proj.weight, bias: proj.bias, adding: x)   // x + proj(attended)
/// ```
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, adding residual: Tensor) -> Tensor {
    linearOp(x, weight: weight, bias: bias, residual: residual)
}

private func linearOp(_ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?) -> Tensor {
    // A plain linear names three inputs (its errors list three shapes); with a residual, four.
    defineOp("linear", inputs: [x, weight, bias] + (residual.map { [$0] } ?? [])) { op in
        let inFeatures = x.shape.last ?? 0
        op.require(
            weight.rank == 2 && weight.shape[1] == inFeatures,
            "weight \(weight.shape) does not fit input \(x.shape) (expects [out, \(inFeatures)])")
        let outFeatures = weight.shape[0]
        if let bias { op.requireShape(bias, [outFeatures], "bias") }
        let outShape = Array(x.shape.dropLast()) + [outFeatures]
        if let residual { op.requireShape(residual, outShape, "residual (the output's shape)") }
        let rows = x.count / Swift.max(inFeatures, 1)
        let y = Tensor(uninitializedShape: outShape)
        Profiler.countGEMM(m: rows, n: outFeatures, k: inFeatures)
        GEMMProduct(
            x.data, weight.data, y.data, m: rows, n: outFeatures, k: inFeatures, transposeA: false, transposeB: true,
            bias: bias.map { UnsafePointer($0.data) },
            epilogue: residual.map { .adding(UnsafePointer($0.data), ld: outFeatures) }
        ).run()
        return OpResult(y) { g in
            let (gx, gw, gb) = linearBackward(
                g, input: x, weight: weight, bias: bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            return [gx, gw, gb] + (residual.map { [$0.needsGrad ? g : nil] } ?? [])
        }
    }
}

/// The gradients of `x @ weightᵀ + bias` for the output's gradient `g` (`rows` x `outFeatures`): the input and
/// weight gradients' products at the same time (``gemmConcurrently``), and the bias gradient's column sums in the
/// time a thread would otherwise wait for the other's product. `nil` for an input that needs no gradient;
/// `needsInputGradient` overrides the input's own flag (an input made inside a fused op has none).
private func linearBackward(
    _ g: Tensor, input x: Tensor, weight: Tensor, bias: Tensor?, rows: Int, inFeatures: Int, outFeatures: Int,
    needsInputGradient: Bool? = nil
) -> (Tensor?, Tensor?, Tensor?) {
    var products: [GEMMProduct] = []
    let gx = needsInputGradient ?? x.needsGrad ? Tensor(uninitializedShape: x.shape) : nil
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
                g.data, x.data, gw.data, m: outFeatures, n: inFeatures, k: rows, transposeA: true, transposeB: false))
    }
    let sums = bias?.needsGrad == true ? ColumnSums(g.data, rows: rows, columns: outFeatures) : nil
    gemmConcurrently(products, sideParts: sums?.parts ?? 0) { sums?.addPart($0) }
    return (gx, gw, sums?.total())
}

/// timm's `Mlp` without dropout as one op: `gelu(x @ fc1Weightᵀ + fc1Bias) @ fc2Weightᵀ + fc2Bias`, plus
/// `residual` when given (the residual connection around the block's MLP).
///
/// GELU runs as fc1's GEMM completes each block of the hidden activations (four times the input's width), and the
/// residual as fc2's GEMM completes each block of the output, each while the block is in cache, instead of in passes
/// of their own. Without a graph to record, GELU overwrites fc1's output in place; in backward, GELU's derivative
/// overwrites the hidden activations' gradient in place. The result and every gradient are bit for bit those of
/// `linear`, `gelu` and `+` one after another.
///
/// ```swift
/// let y = mlp(norm2(h), fc1Weight: w1, fc1Bias: b1, fc2Weight: w2, fc2Bias: b2, adding: h)   // [B, N, C]
/// ```
public func mlp(
    _ x: Tensor, fc1Weight: Tensor, fc1Bias: Tensor?, fc2Weight: Tensor, fc2Bias: Tensor?,
    adding residual: Tensor? = nil
) -> Tensor {
    defineOp("mlp", inputs: [x, fc1Weight, fc1Bias, fc2Weight, fc2Bias, residual]) { op in
        let inFeatures = x.shape.last ?? 0
        op.require(
            fc1Weight.rank == 2 && fc1Weight.shape[1] == inFeatures,
            "fc1 weight \(fc1Weight.shape) does not fit input \(x.shape) (expects [hidden, \(inFeatures)])")
        let hidden = fc1Weight.shape[0]
        op.require(
            fc2Weight.rank == 2 && fc2Weight.shape[1] == hidden,
            "fc2 weight \(fc2Weight.shape) does not fit fc1's \(hidden) outputs (expects [out, \(hidden)])")
        let outFeatures = fc2Weight.shape[0]
        if let fc1Bias { op.requireShape(fc1Bias, [hidden], "fc1 bias") }
        if let fc2Bias { op.requireShape(fc2Bias, [outFeatures], "fc2 bias") }
        let outShape = Array(x.shape.dropLast()) + [outFeatures]
        if let residual { op.requireShape(residual, outShape, "residual (the output's shape)") }
        let rows = x.count / Swift.max(inFeatures, 1)
        let recording = op.isRecording
        // fc1's output before GELU is kept for GELU's backward; without a graph, GELU overwrites it.
        let preActivation = Tensor(uninitializedShape: [rows, hidden])
        let activation = recording ? Tensor(uninitializedShape: [rows, hidden]) : preActivation
        Profiler.countGEMM(m: rows, n: hidden, k: inFeatures)
        GEMMProduct(
            x.data, fc1Weight.data, preActivation.data, m: rows, n: hidden, k: inFeatures, transposeA: false,
            transposeB: true, bias: fc1Bias.map { UnsafePointer($0.data) },
            epilogue: .gelu(into: activation.data, ld: hidden)
        ).run()
        let y = Tensor(uninitializedShape: outShape)
        Profiler.countGEMM(m: rows, n: outFeatures, k: hidden)
        GEMMProduct(
            activation.data, fc2Weight.data, y.data, m: rows, n: outFeatures, k: hidden, transposeA: false,
            transposeB: true, bias: fc2Bias.map { UnsafePointer($0.data) },
            epilogue: residual.map { .adding(UnsafePointer($0.data), ld: outFeatures) }
        ).run()
        return OpResult(y) { g in
            let fc1NeedsGrad = x.needsGrad || fc1Weight.needsGrad || fc1Bias?.needsGrad == true
            // The hidden activations' gradient, then times GELU's derivative in place: fc1's output's. (As the
            // epilogue of its product, the derivative would load the one thread that runs that product while the
            // other runs fc2's weight gradient: small128's first-stage pair took 16.8 against 12.8 ms.)
            let (preGradient, gw2, gb2) = linearBackward(
                g, input: activation, weight: fc2Weight, bias: fc2Bias, rows: rows, inFeatures: hidden,
                outFeatures: outFeatures, needsInputGradient: fc1NeedsGrad)
            var (gx, gw1, gb1): (Tensor?, Tensor?, Tensor?) = (nil, nil, nil)
            if let preGradient {
                let (pre, gradient) = (UnsafePointer(preActivation.data), preGradient.data)
                Parallel.forRanges(rows * hidden, work: rows * hidden * 8) { lo, hi in
                    mk_gelu_backward(pre + lo, gradient + lo, gradient + lo, hi - lo)
                }
                (gx, gw1, gb1) = linearBackward(
                    preGradient, input: x, weight: fc1Weight, bias: fc1Bias, rows: rows, inFeatures: inFeatures,
                    outFeatures: hidden)
            }
            return [gx, gw1, gb1, gw2, gb2, residual?.needsGrad == true ? g : nil]
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
