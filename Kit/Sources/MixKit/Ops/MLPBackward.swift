import CKernels

/// The gradients of ``mlp``'s inputs; nil where none was asked for.
struct MLPGradients {
    var input: Tensor?
    var fc1Weight: Tensor?
    var fc1Bias: Tensor?
    var fc2Weight: Tensor?
    var fc2Bias: Tensor?
}

/// ``mlp``'s backward pass for a layer its forward pass ran in blocks of rows (``MLPLayers/blockRows``): each block's
/// four products one after another on one thread, so that fc1's output's gradient (the block's `g W2 ⊙ GELU'`, g the
/// output's gradient) stays in that thread's cache for the products that read it, instead of being written to
/// memory and read back three times (two products and the bias's column sums; 16 MB in small128's first stage).
///
/// The blocks are grouped in ``parts`` runs of consecutive blocks, a number that does not depend on the thread
/// count; each run adds its blocks' weight and bias gradients into its row of ``PartialSums``, whose total adds the
/// rows in a fixed order. The gradients are therefore the same whatever thread ran which run. The input gradient is
/// bit for bit the whole-matrix one (each element gets the same multiply-adds in the same order); the weight and
/// bias gradients sum the rows in another order, so they agree with the whole-matrix ones to rounding.
///
/// ```swift
/// let rows = MLPBlockedBackward.blockRows(forward: 504, rows: 16384)   // 504
/// let gradients = MLPBlockedBackward(layers: layers, blockRows: rows, kept: kept, wanted: wanted)
///     .run(outputGradient: g.data)
/// ```
struct MLPBlockedBackward {
    /// Which gradients to compute.
    struct Wanted {
        var input: Bool
        var fc1Weight: Bool
        var fc1Bias: Bool
        var fc2Weight: Bool
        var fc2Bias: Bool

        /// Whether fc1's output's gradient is needed at all.
        var reachesFC1: Bool { input || fc1Weight || fc1Bias }
    }

    /// Most runs of blocks: enough for two threads to share the work evenly as they take runs from the pool's
    /// counter, few enough that the partial weight gradients stay small (8 x 512 KiB in small128's second stage).
    static let maximumParts = 8

    /// Rows per block: the forward pass's blocks, or smaller ones (a multiple of 12 rows) when those would make
    /// fewer than ``maximumParts`` blocks. pico64's second stage (2048 rows) then runs 8 blocks of 264 rows in 8
    /// runs, 4 per thread, instead of 5 blocks of 420 in 5 runs, 3 on one thread and 2 on the other.
    static func blockRows(forward: Int, rows: Int) -> Int {
        Swift.min(forward, ((rows + maximumParts - 1) / maximumParts + 11) / 12 * 12)
    }

    let layers: MLPLayers
    let blockRows: Int
    let kept: MLPLayers.Kept
    let wanted: Wanted

    var blocks: Int { (layers.rows + blockRows - 1) / blockRows }
    var parts: Int { Swift.min(blocks, Self.maximumParts) }

    /// Whether fc2's weight gradient is computed transposed (`[hidden, outFeatures]`, turned into place once the
    /// partial sums are added) when its transpose fills more of the micro-tiles, counted whole as
    /// ``TransposedTiles`` counts them (small128's first stage: 256x64 per block, one thread, 0.148-0.153 ms against
    /// 0.155-0.162 for 64x256).
    var turnsFC2Weight: Bool {
        guard let tile = GEMMKernels.microTile else { return false }
        return TransposedTiles.filled(rows: layers.hidden, columns: layers.outFeatures, tile: tile)
            > TransposedTiles.filled(rows: layers.outFeatures, columns: layers.hidden, tile: tile)
    }

    /// The multiply-adds of the products that run.
    var work: Int {
        let (rows, inFeatures, hidden, outFeatures) = (
            layers.rows, layers.inFeatures, layers.hidden, layers.outFeatures
        )
        var total = wanted.fc2Weight ? rows * hidden * outFeatures : 0
        guard wanted.reachesFC1 else { return total }
        total += rows * hidden * outFeatures
        if wanted.input { total += rows * inFeatures * hidden }
        if wanted.fc1Weight { total += rows * inFeatures * hidden }
        return total
    }

    /// The gradients for the output's gradient `g` (`[rows, outFeatures]`).
    func run(outputGradient g: UnsafePointer<Float>) -> MLPGradients {
        let (rows, inFeatures, hidden, outFeatures) = (
            layers.rows, layers.inFeatures, layers.hidden, layers.outFeatures
        )
        let (blocks, parts) = (blocks, parts)
        let input = wanted.input ? Tensor(uninitializedShape: [rows, inFeatures]) : nil
        // Each run's first block writes its row of the weight gradients' partial sums with beta 0: no zeros first.
        let fc1WeightParts =
            wanted.fc1Weight ? PartialSums(parts: parts, columns: hidden * inFeatures, zeroed: false) : nil
        let fc2WeightParts =
            wanted.fc2Weight ? PartialSums(parts: parts, columns: outFeatures * hidden, zeroed: false) : nil
        let turnsFC2Weight = turnsFC2Weight
        let fc1BiasParts = wanted.fc1Bias ? PartialSums(parts: parts, columns: hidden) : nil
        let fc2BiasParts = wanted.fc2Bias ? PartialSums(parts: parts, columns: outFeatures) : nil
        let (slope, activation) = (UnsafePointer(kept.slope.data), UnsafePointer(kept.activation.data))
        if wanted.fc2Weight { Profiler.countGEMM(m: outFeatures, n: hidden, k: rows) }
        if wanted.reachesFC1 { Profiler.countGEMM(m: rows, n: hidden, k: outFeatures) }
        if wanted.input { Profiler.countGEMM(m: rows, n: inFeatures, k: hidden) }
        if wanted.fc1Weight { Profiler.countGEMM(m: hidden, n: inFeatures, k: rows) }
        Profiler.measureGEMM(
            "\(rows)x\(hidden)x\(outFeatures) backward, x\(inFeatures) in blocks of \(blockRows) rows", work: work
        ) {
            Parallel.configure()
            Parallel.forEachPart(parts) { part in
                let (first, end) = (blocks * part / parts, blocks * (part + 1) / parts)
                // fc1's output's gradient, one block at a time, in a buffer the block after reuses while in cache.
                let preGradient = wanted.reachesFC1 ? Tensor(uninitializedShape: [blockRows, hidden]) : nil
                for block in first..<end {
                    let lo = block * blockRows
                    let count = Swift.min(blockRows, rows - lo)
                    let beta: Float = block == first ? 0 : 1
                    let gBlock = g + lo * outFeatures
                    if let fc2WeightParts, turnsFC2Weight {
                        blasGEMM(
                            activation + lo * hidden, lda: hidden, gBlock, ldb: outFeatures,
                            fc2WeightParts.row(part), ldc: outFeatures, m: hidden,
                            n: outFeatures, k: count, transposeA: true, transposeB: false, beta: beta)
                    } else if let fc2WeightParts {
                        blasGEMM(
                            gBlock, lda: outFeatures, activation + lo * hidden, ldb: hidden,
                            fc2WeightParts.row(part), ldc: hidden, m: outFeatures, n: hidden,
                            k: count, transposeA: true, transposeB: false, beta: beta)
                    }
                    if let fc2BiasParts { mk_col_sum_accumulate(gBlock, count, outFeatures, fc2BiasParts.row(part)) }
                    guard let dz = preGradient?.data else { continue }
                    blasGEMM(
                        gBlock, lda: outFeatures, layers.fc2Weight, ldb: hidden, dz, ldc: hidden, m: count, n: hidden,
                        k: outFeatures, transposeA: false, transposeB: false,
                        epilogue: .multiplying(by: slope + lo * hidden, ld: hidden))
                    if let input {
                        blasGEMM(
                            dz, lda: hidden, layers.fc1Weight, ldb: inFeatures, input.data + lo * inFeatures,
                            ldc: inFeatures, m: count, n: inFeatures, k: hidden, transposeA: false, transposeB: false)
                    }
                    if let fc1WeightParts {
                        blasGEMM(
                            dz, lda: hidden, layers.x + lo * inFeatures, ldb: inFeatures,
                            fc1WeightParts.row(part), ldc: inFeatures, m: hidden,
                            n: inFeatures, k: count, transposeA: true, transposeB: false, beta: beta)
                    }
                    if let fc1BiasParts { mk_col_sum_accumulate(dz, count, hidden, fc1BiasParts.row(part)) }
                }
                withExtendedLifetime(preGradient) {}
            }
        }
        return MLPGradients(
            input: input,
            fc1Weight: fc1WeightParts.map { $0.total().reshapedView([hidden, inFeatures]) },
            fc1Bias: fc1BiasParts.map { $0.total() },
            fc2Weight: fc2WeightParts.map { partials in
                turnsFC2Weight
                    ? permuteKernel(partials.total().reshapedView([hidden, outFeatures]), [1, 0])
                    : partials.total().reshapedView([outFeatures, hidden])
            },
            fc2Bias: fc2BiasParts.map { $0.total() })
    }
}
