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
/// The rows are cut in ``parts`` runs of consecutive blocks, a number that does not depend on the thread count, as
/// evenly as whole micro-tiles (12 rows) allow (``runRows(_:)``), each run in blocks of about ``blockRows`` rows
/// (``blocks(of:)``); each run adds its blocks' weight and bias gradients into its row of ``PartialSums``, whose
/// total adds the rows in a fixed order. The gradients are therefore the same whatever thread ran which run.
/// Runs of whole blocks were uneven: small128's first stage (33 blocks of 504 rows, the last 256) gave one run
/// 2272 rows and the others 2016, so the thread that took it had 8320 rows against 8064. The input gradient is bit
/// for bit the whole-matrix one (each element gets the same multiply-adds in the same order); the weight and
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
    /// fewer than ``maximumParts`` blocks. pico64's second stage (2048 rows) then runs 8 runs of one block each
    /// (252 to 264 rows), 4 per thread, instead of 5 blocks of 420 in 5 runs, 3 on one thread and 2 on the other.
    static func blockRows(forward: Int, rows: Int) -> Int {
        Swift.min(forward, ((rows + maximumParts - 1) / maximumParts + 11) / 12 * 12)
    }

    let layers: MLPLayers
    let blockRows: Int
    let kept: MLPLayers.Kept
    let wanted: Wanted

    /// Runs of blocks: one per block of ``blockRows`` rows, at most ``maximumParts``, each at least one micro-tile.
    var parts: Int {
        let blocks = (layers.rows + blockRows - 1) / blockRows
        return Swift.max(1, Swift.min(blocks, Self.maximumParts, layers.rows / 12))
    }

    /// The rows of run `part`: every run but the last starts at a multiple of 12 rows, as near to an equal share as
    /// that allows (small128's first stage: runs of 2040 and 2052 rows).
    func runRows(_ part: Int) -> Range<Int> {
        func start(_ run: Int) -> Int { run == parts ? layers.rows : layers.rows * run / parts / 12 * 12 }
        return start(part)..<start(part + 1)
    }

    /// The blocks of a run's `rows`: the fewest of at most ``blockRows`` rows, of equal whole micro-tiles but the
    /// last (small128's first stage: 5 blocks of 408 rows, or 4 of 420 and one of 372).
    func blocks(of rows: Range<Int>) -> [Range<Int>] {
        let count = Swift.max(1, (rows.count + blockRows - 1) / blockRows)
        let size = ((rows.count + count - 1) / count + 11) / 12 * 12
        return stride(from: rows.lowerBound, to: rows.upperBound, by: size).map {
            $0..<Swift.min($0 + size, rows.upperBound)
        }
    }

    /// The most rows of any block.
    var largestBlock: Int { (0..<parts).map { blocks(of: runRows($0)).first?.count ?? 0 }.max() ?? 0 }

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
        let parts = parts
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
            "\(rows)x\(hidden)x\(outFeatures) backward, x\(inFeatures) in blocks of up to \(largestBlock) rows",
            work: work
        ) {
            Parallel.configure()
            Parallel.forEachPart(parts) { part in
                let blocks = blocks(of: runRows(part))
                // fc1's output's gradient, one block at a time, in a buffer the block after reuses while in cache.
                let preGradient =
                    wanted.reachesFC1 ? Tensor(uninitializedShape: [blocks.first?.count ?? 0, hidden]) : nil
                for (index, block) in blocks.enumerated() {
                    let (lo, count) = (block.lowerBound, block.count)
                    let beta: Float = index == 0 ? 0 : 1
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
