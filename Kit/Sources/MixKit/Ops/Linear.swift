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
/// `needsInputGradient` overrides the input's own flag (an input made inside a fused op has none), and the input
/// gradient's product runs `inputGradientEpilogue` on each block of it.
private func linearBackward(
    _ g: Tensor, input x: Tensor, weight: Tensor, bias: Tensor?, rows: Int, inFeatures: Int, outFeatures: Int,
    needsInputGradient: Bool? = nil, inputGradientEpilogue: mk_gemm_epilogue? = nil
) -> (Tensor?, Tensor?, Tensor?) {
    var products: [GEMMProduct] = []
    let gx = needsInputGradient ?? x.needsGrad ? Tensor(uninitializedShape: x.shape) : nil
    if let gx {
        Profiler.countGEMM(m: rows, n: inFeatures, k: outFeatures)
        products.append(
            GEMMProduct(
                g.data, weight.data, gx.data, m: rows, n: inFeatures, k: outFeatures, transposeA: false,
                transposeB: false, epilogue: inputGradientEpilogue))
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
/// of their own. Without a graph to record, GELU overwrites fc1's output in place; with one, fc1's epilogue also
/// writes GELU's derivative over fc1's output (from the same exponential and erf), and in backward the hidden
/// activations' gradient is multiplied by it as each block of that product completes. The result and the input's
/// and residual's gradients are bit for bit those of `linear`, `gelu` and `+` one after another; so are the weight
/// and bias gradients, except for a narrow layer with many rows, whose backward pass runs in blocks of rows
/// (``MLPBlockedBackward``) and sums them in another order.
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
        let layers = MLPLayers(
            x: x.data, fc1Weight: fc1Weight.data, fc1Bias: fc1Bias?.data, fc2Weight: fc2Weight.data,
            fc2Bias: fc2Bias?.data, residual: residual?.data, rows: rows, inFeatures: inFeatures, hidden: hidden,
            outFeatures: outFeatures)
        // GELU's derivative at fc1's output is kept for GELU's backward and the activations for fc2's weight gradient.
        let kept = recording ? MLPLayers.Kept(rows: rows, hidden: hidden) : nil
        let y = Tensor(uninitializedShape: outShape)
        Profiler.countGEMM(m: rows, n: hidden, k: inFeatures)
        Profiler.countGEMM(m: rows, n: outFeatures, k: hidden)
        layers.run(keeping: kept, output: y.data)
        return OpResult(y) { g in
            guard let kept else { preconditionFailure("mlp: a backward pass without the graph's saved activations") }
            let fc1NeedsGrad = x.needsGrad || fc1Weight.needsGrad || fc1Bias?.needsGrad == true
            if let forwardRows = layers.blockRows {
                let blockRows = MLPBlockedBackward.blockRows(forward: forwardRows, rows: rows)
                let wanted = MLPBlockedBackward.Wanted(
                    input: x.needsGrad, fc1Weight: fc1Weight.needsGrad, fc1Bias: fc1Bias?.needsGrad == true,
                    fc2Weight: fc2Weight.needsGrad, fc2Bias: fc2Bias?.needsGrad == true)
                let blocked = MLPBlockedBackward(layers: layers, blockRows: blockRows, kept: kept, wanted: wanted)
                let gradients = blocked.run(outputGradient: g.data)
                let gx = gradients.input?.reshapedView(x.shape)
                let gr = residual?.needsGrad == true ? g : nil
                return [gx, gradients.fc1Weight, gradients.fc1Bias, gradients.fc2Weight, gradients.fc2Bias, gr]
            }
            // fc1's output's gradient: the hidden activations' times GELU's derivative, kept by the forward pass and
            // multiplied in as each block of the product completes. Computing the derivative here instead (in
            // that epilogue, or in a pass of its own) cost small128's finetuning step 3-5 ms.
            let (preGradient, gw2, gb2) = linearBackward(
                g, input: kept.activation, weight: fc2Weight, bias: fc2Bias, rows: rows, inFeatures: hidden,
                outFeatures: outFeatures, needsInputGradient: fc1NeedsGrad,
                inputGradientEpilogue: .multiplying(by: kept.slope.data, ld: hidden))
            var (gx, gw1, gb1): (Tensor?, Tensor?, Tensor?) = (nil, nil, nil)
            if let preGradient {
                (gx, gw1, gb1) = linearBackward(
                    preGradient, input: x, weight: fc1Weight, bias: fc1Bias, rows: rows, inFeatures: inFeatures,
                    outFeatures: hidden)
            }
            return [gx, gw1, gb1, gw2, gb2, residual?.needsGrad == true ? g : nil]
        }
    }
}

/// The two GEMMs of ``mlp``'s forward pass and the work between them: `pre = x fc1ᵀ + b1`, `act = gelu(pre)`,
/// `y = act fc2ᵀ + b2 (+ residual)`, on row-major matrices.
///
/// A layer with narrow weights and many rows (small128's first two stages: 16384 x 64 -> 256 and 4096 x 128 -> 512)
/// runs in blocks of rows, each block's fc1 and fc2 one after the other on one thread, the threads taking blocks
/// from the pool's counter: fc2 then reads the block's activations from the thread's L2 cache instead of from
/// memory, and without a graph to keep them, the activations never reach memory at all (each block's go to a
/// buffer the pool hands to the next block). A block's activations are at most ``blockFloats`` (512 KiB, half of
/// the L2 cache of the machines measured); both weights are packed again for each block, which the narrow weights
/// (at most ``maximumWeightFloats``) keep cheap. Each element gets the same multiply-adds in the same order as in
/// whole-matrix GEMMs, so the result is bit for bit the same.
///
/// small128 inference, alternating runs with and without the blocks (5 pairs, `MIXMAE_PROFILE=1`): steps 119.2-122.8
/// against 120.0-124.3 ms, faster in each pair; the first stage's two GEMMs 13.2-13.5 against 14.7 ms per step.
///
/// ```swift
/// let layers = MLPLayers(x: x.data, fc1Weight: w1.data, fc1Bias: nil, fc2Weight: w2.data, fc2Bias: nil,
///                        residual: nil, rows: 16384, inFeatures: 64, hidden: 256, outFeatures: 64)
/// layers.run(keeping: nil, output: y.data)   // no graph: the activations are not kept
/// ```
struct MLPLayers {
    /// What a recorded forward pass keeps for the backward pass: GELU's derivative at fc1's output (written over
    /// it by fc1's epilogue, which has the exponential and erf at hand) and the activations.
    struct Kept {
        let slope: Tensor
        let activation: Tensor

        init(rows: Int, hidden: Int) {
            slope = Tensor(uninitializedShape: [rows, hidden])
            activation = Tensor(uninitializedShape: [rows, hidden])
        }
    }

    let x: UnsafePointer<Float>
    let fc1Weight: UnsafePointer<Float>
    let fc1Bias: UnsafePointer<Float>?
    let fc2Weight: UnsafePointer<Float>
    let fc2Bias: UnsafePointer<Float>?
    let residual: UnsafePointer<Float>?
    let rows: Int
    let inFeatures: Int
    let hidden: Int
    let outFeatures: Int

    /// Most activations in one block of rows: 512 KiB.
    static let blockFloats = 1 << 17

    /// Largest weight (either layer's) that each block packs again.
    static let maximumWeightFloats = 1 << 16

    /// Fewest blocks worth the split.
    static let minimumBlocks = 4

    /// Rows per block, a multiple of MixKit's 12-row micro-tile, the blocks as equal as that allows; nil when the
    /// layer runs as two whole GEMMs (wide weights, few rows, or OpenBLAS multiplying).
    var blockRows: Int? {
        guard GEMMKernels.microTile != nil, rows > 0, hidden > 0,
            hidden * inFeatures <= Self.maximumWeightFloats, hidden * outFeatures <= Self.maximumWeightFloats
        else { return nil }
        let most = Self.blockFloats / hidden / 12 * 12
        guard most >= GEMMKernels.minimumRowsTransposedB, rows >= Self.minimumBlocks * most else { return nil }
        let blocks = (rows + most - 1) / most
        return ((rows + blocks - 1) / blocks + 11) / 12 * 12
    }

    /// Where rows `lo ..< lo + count` of fc1's output (then the slope over it) and of the activations go:
    /// `kept`'s rows, or without a graph one buffer of their own for both (GELU in place, no slope), which the
    /// buffer pool hands to the next block while it is still in cache; `owner` holds that buffer.
    private func storage(rows lo: Int, count: Int, kept: Kept?) -> (
        preActivation: UnsafeMutablePointer<Float>, activation: UnsafeMutablePointer<Float>, owner: Tensor?
    ) {
        if let kept { return (kept.slope.data + lo * hidden, kept.activation.data + lo * hidden, nil) }
        let buffer = Tensor(uninitializedShape: [count, hidden])
        return (buffer.data, buffer.data, buffer)
    }

    /// fc1's epilogue: GELU into `activation`, and with a graph its slope over fc1's output `preActivation`.
    private func fc1Epilogue(
        _ preActivation: UnsafeMutablePointer<Float>, _ activation: UnsafeMutablePointer<Float>, keeping: Bool
    ) -> mk_gemm_epilogue {
        .gelu(into: activation, ld: hidden, slope: keeping ? preActivation : nil, ldSlope: hidden)
    }

    /// Writes `output`, and `kept`'s slope and activations when given.
    func run(keeping kept: Kept?, output: UnsafeMutablePointer<Float>) {
        guard let blockRows else {
            // Without a graph, GELU overwrites fc1's output in place.
            let preActivation = kept?.slope ?? Tensor(uninitializedShape: [rows, hidden])
            let activation = kept?.activation ?? preActivation
            withExtendedLifetime((preActivation, activation)) {
                GEMMProduct(
                    x, fc1Weight, preActivation.data, m: rows, n: hidden, k: inFeatures, transposeA: false,
                    transposeB: true, bias: fc1Bias,
                    epilogue: fc1Epilogue(preActivation.data, activation.data, keeping: kept != nil)
                ).run()
                GEMMProduct(
                    UnsafePointer(activation.data), fc2Weight, output, m: rows, n: outFeatures, k: hidden,
                    transposeA: false, transposeB: true, bias: fc2Bias,
                    epilogue: residual.map { .adding($0, ld: outFeatures) }
                ).run()
            }
            return
        }
        let blocks = (rows + blockRows - 1) / blockRows
        Profiler.measureGEMM(
            "\(rows)x\(hidden)x\(inFeatures) Bᵀ, x\(outFeatures) Bᵀ in blocks of \(blockRows) rows",
            work: rows * hidden * (inFeatures + outFeatures)
        ) {
            Parallel.configure()
            Parallel.forEachPart(blocks) { block in
                let lo = block * blockRows
                let count = Swift.min(blockRows, rows - lo)
                let (preActivation, activation, owner) = storage(rows: lo, count: count, kept: kept)
                withExtendedLifetime(owner) {
                    blasGEMM(
                        x + lo * inFeatures, lda: inFeatures, fc1Weight, ldb: inFeatures, preActivation, ldc: hidden,
                        m: count, n: hidden, k: inFeatures, transposeA: false, transposeB: true, bias: fc1Bias,
                        epilogue: fc1Epilogue(preActivation, activation, keeping: kept != nil))
                    blasGEMM(
                        activation, lda: hidden, fc2Weight, ldb: hidden, output + lo * outFeatures, ldc: outFeatures,
                        m: count, n: outFeatures, k: hidden, transposeA: false, transposeB: true, bias: fc2Bias,
                        epilogue: residual.map { .adding($0 + lo * outFeatures, ld: outFeatures) })
                }
            }
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
    private let partial: PartialSums

    init(_ source: UnsafePointer<Float>, rows: Int, columns: Int) {
        self.source = source
        self.rows = rows
        self.columns = columns
        parts = Swift.max(1, (rows + Self.rowsPerPart - 1) / Self.rowsPerPart)
        partial = PartialSums(parts: parts, columns: columns)
    }

    /// Adds block `part`'s rows into its row of partial sums.
    func addPart(_ part: Int) {
        let lo = rows * part / parts
        let hi = rows * (part + 1) / parts
        mk_col_sum_accumulate(source + lo * columns, hi - lo, columns, partial.row(part))
    }

    /// The sums `[columns]`, once every part has run.
    func total() -> Tensor {
        partial.total()
    }
}
