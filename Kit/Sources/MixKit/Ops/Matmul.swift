import CBLAS
import CKernels
import Foundation

/// Which code multiplies the single-threaded blocks every GEMM of MixKit is cut into.
///
/// MixKit's own cache-blocked SGEMM (`mk_sgemm` in CKernels: a 12x32 AVX-512 or
/// 6x16 AVX2 register-blocked micro-kernel; A read in place unless transposed,
/// B packed) runs on the avx512 and avx2 kernel paths for blocks of at least
/// ``minimumWork`` multiply-adds; smaller blocks, the portable path, and a
/// process started with `MIXMAE_GEMM=openblas` use OpenBLAS's `cblas_sgemm`.
///
/// ```swift
/// print(GEMMKernels.summary)  // "MixKit avx512 (12x32 micro-kernel)"
/// ```
public enum GEMMKernels: String, Sendable, CaseIterable {
    /// MixKit's own kernel where the kernel path has one (avx2, avx512), else OpenBLAS.
    case mixkit
    /// OpenBLAS's `cblas_sgemm` everywhere (to compare, or as a fallback).
    case openblas

    /// The choice of `MIXMAE_GEMM` (`mixkit`, the default, or `openblas`). Another
    /// value ends the process with exit status 2 and says what to set, as a bad
    /// `MIXMAE_CPU` does.
    public static let requested: GEMMKernels = {
        let value = ProcessInfo.processInfo.environment["MIXMAE_GEMM"] ?? ""
        if value.isEmpty { return .mixkit }
        guard let choice = GEMMKernels(rawValue: value.lowercased()) else {
            FileHandle.standardError.write(
                Data(
                    "mixmae: MIXMAE_GEMM=\(value) is not a GEMM choice; set MIXMAE_GEMM to mixkit or openblas, or unset it\n"
                        .utf8))
            exit(2)
        }
        return choice
    }()

    /// Below this many multiply-adds a block goes to OpenBLAS even with `mixkit`: on
    /// attention's 8x8-window products (64x32x64, one thread) OpenBLAS's small-matrix
    /// kernels ran 159 GFLOP/s to MixKit's 111, while at 14x14 windows (196x32x196)
    /// MixKit ran 147 to OpenBLAS's 105. (Attention with 32-dimensional heads now runs
    /// its per-head products on CKernels' `mk_attention_scores` and `mk_attention_apply`.)
    public static let minimumWork = 1 << 19

    /// Rows of C below which MixKit's kernel leaves a product with a transposed B to OpenBLAS (CKernels'
    /// `MK_GEMM_MIN_ROWS_TRANSPOSED_B`: OpenBLAS packs a transposed B faster, which few rows do not repay).
    static let minimumRowsTransposedB = 128

    /// What multiplies GEMM blocks on the calling thread's kernel path now.
    public static var active: GEMMKernels {
        requested == .mixkit && CPUFeatures.kernelPath != .portable ? .mixkit : .openblas
    }

    /// One line for `--version` and benchmark headers: `"MixKit avx512 (12x32 micro-kernel)"`,
    /// or `"OpenBLAS SkylakeX"` (with the reason when MixKit's kernel is not used).
    public static var summary: String {
        if let tile = microTile {
            return "MixKit \(CPUFeatures.kernelPath) (\(tile.rows)x\(tile.columns) micro-kernel)"
        }
        return requested == .mixkit
            ? "OpenBLAS \(CPUFeatures.blasKernels) (the portable kernel path has no MixKit GEMM)"
            : "OpenBLAS \(CPUFeatures.blasKernels) (MIXMAE_GEMM=openblas)"
    }

    /// MixKit's micro-tile (rows, columns of C) on the calling thread's kernel path (`MK_GEMM_MR` and
    /// `MK_GEMM_NR` of its kernels file); nil where OpenBLAS multiplies.
    static var microTile: (rows: Int, columns: Int)? {
        guard active == .mixkit else { return nil }
        switch CPUFeatures.kernelPath {
        case .avx512: return (12, 32)
        case .avx2: return (6, 16)
        case .portable: return nil
        }
    }
}

/// One single-threaded GEMM on row-major matrices with explicit leading
/// dimensions: `C = alpha op(A) op(B) + bias + beta C`, by MixKit's kernel or
/// OpenBLAS (see ``GEMMKernels``). `bias` (n values, added to every row) needs beta 0.
@inline(__always)
func blasGEMM(
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, _ c: UnsafeMutablePointer<Float>,
    ldc: Int, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0,
    bias: UnsafePointer<Float>? = nil, epilogue: mk_gemm_epilogue? = nil
) {
    if GEMMKernels.requested == .mixkit && m * n * k >= GEMMKernels.minimumWork {
        let handled =
            if var epilogue {
                mk_sgemm_epilogue(
                    transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias,
                    &epilogue)
            } else {
                mk_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
            }
        if handled != 0 { return }
    }
    openBLASGEMM(
        a, lda: lda, b, ldb: ldb, c, ldc: ldc, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
        alpha: alpha, beta: beta, bias: bias)
    if var epilogue { mk_gemm_apply_epilogue(&epilogue, c, ldc, m, n) }
}

extension mk_gemm_epilogue {
    /// No step: each one below sets only its own.
    static let none = mk_gemm_epilogue(
        addend: nil, ld_addend: 0, factor: nil, ld_factor: 0, gelu_out: nil, ld_gelu_out: 0, slope_out: nil,
        ld_slope_out: 0)

    /// Adds `addend` (rows `ld` apart) to C once the product is complete: a residual connection.
    static func adding(_ addend: UnsafePointer<Float>, ld: Int) -> mk_gemm_epilogue {
        var epilogue = none
        (epilogue.addend, epilogue.ld_addend) = (addend, ld)
        return epilogue
    }

    /// Multiplies C by `factor` (rows `ld` apart) element by element: GELU's derivative, kept by the forward pass,
    /// on the gradient of the activations.
    static func multiplying(by factor: UnsafePointer<Float>, ld: Int) -> mk_gemm_epilogue {
        var epilogue = none
        (epilogue.factor, epilogue.ld_factor) = (factor, ld)
        return epilogue
    }

    /// Writes GELU of C to `output` (rows `ld` apart; C itself for GELU in place), and with `slope` GELU's
    /// derivative at C to it (rows `ldSlope` apart; C itself to keep the slope instead of C).
    static func gelu(
        into output: UnsafeMutablePointer<Float>, ld: Int, slope: UnsafeMutablePointer<Float>? = nil, ldSlope: Int = 0
    ) -> mk_gemm_epilogue {
        var epilogue = none
        (epilogue.gelu_out, epilogue.ld_gelu_out) = (output, ld)
        (epilogue.slope_out, epilogue.ld_slope_out) = (slope, ldSlope)
        return epilogue
    }

    /// The same epilogue for the block of C that starts at row `row`, column `column`.
    func block(row: Int, column: Int) -> mk_gemm_epilogue {
        mk_gemm_epilogue(
            addend: addend.map { $0 + row * ld_addend + column }, ld_addend: ld_addend,
            factor: factor.map { $0 + row * ld_factor + column }, ld_factor: ld_factor,
            gelu_out: gelu_out.map { $0 + row * ld_gelu_out + column }, ld_gelu_out: ld_gelu_out,
            slope_out: slope_out.map { $0 + row * ld_slope_out + column }, ld_slope_out: ld_slope_out)
    }
}

/// `cblas_sgemm` on row-major matrices, on OpenBLAS's current thread count. A `bias`
/// (which needs beta 0) is copied into every row of C first, and the GEMM adds to it.
@inline(__always)
func openBLASGEMM(
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, _ c: UnsafeMutablePointer<Float>,
    ldc: Int, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0,
    bias: UnsafePointer<Float>? = nil
) {
    var beta = beta
    if let bias {
        for row in 0..<m { (c + row * ldc).update(from: bias, count: n) }
        beta = 1
    }
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Below this many multiply-adds a GEMM runs on the calling thread (about 10 µs of work).
let minimumParallelGEMM = 1 << 19

/// `C = alpha op(A) op(B) + beta C` with explicit leading dimensions, on
/// ``Parallel/threadCount`` threads (rule 1 of ``Parallel``): MixKit cuts the
/// larger of M and N in one share per thread (a multiple of 12 rows or 32
/// columns), each run in pieces of single-threaded GEMMs (``GEMMKernels``) that
/// a thread done with its own share takes over from the end of another's
/// (``GEMMPieces``).
///
/// Measured with OpenBLAS blocks on this project's GEMMs (min of 12 interleaved runs, 2 threads,
/// GFLOP/s), the cut beats OpenBLAS's own threading on the tall-skinny linears
/// of the first stages (16384x192x64: 179 vs 152; 6272x96x288: 143 vs 116) and
/// on long-reduction weight gradients (288x96x6272: 152 vs 93), and loses on
/// some mid-size ones (1024x256x1024 with Aᵀ: 181 vs 200). But a GEMM on
/// OpenBLAS's threads leaves its worker busy-waiting for a while afterwards,
/// competing with MixKit's threads for the element-wise kernels that follow:
/// with OpenBLAS threading the mid-size shapes, small128 took 25% more CPU
/// time per step. So OpenBLAS stays single-threaded (its workers sleep) and
/// MixKit threads every GEMM.
func gemm(
    _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, _ c: UnsafeMutablePointer<Float>,
    ldc: Int, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0,
    bias: UnsafePointer<Float>? = nil
) {
    GEMMProduct(
        a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, m: m, n: n, k: k, transposeA: transposeA,
        transposeB: transposeB, alpha: alpha, beta: beta, bias: bias
    ).run()
}

/// One GEMM `C = alpha op(A) op(B) + bias + beta C` on row-major matrices with explicit leading dimensions:
/// what ``gemm`` runs, and what ``gemmConcurrently(_:)`` runs several of at once.
struct GEMMProduct {
    var a: UnsafePointer<Float>
    var lda: Int
    var b: UnsafePointer<Float>
    var ldb: Int
    var c: UnsafeMutablePointer<Float>
    var ldc: Int
    var m: Int
    var n: Int
    var k: Int
    var transposeA: Bool
    var transposeB: Bool
    var alpha: Float = 1
    var beta: Float = 0
    var bias: UnsafePointer<Float>? = nil
    /// What each block of C gets once its product is complete, while it is in cache (a residual, GELU).
    var epilogue: mk_gemm_epilogue? = nil

    /// Multiply-adds.
    var work: Int { m * n * k }

    /// Too small to share: runs on the calling thread.
    var isSmall: Bool { work < minimumParallelGEMM || (m < 32 && n < 32) }

    /// The larger of M and N is cut: rows when M >= N.
    var splitsRows: Bool { m >= n }

    /// Blocks of whole micro-tiles along the cut: 12 rows (MixKit's 12- and 6-row kernels; 16 for OpenBLAS's)
    /// or 32 columns. Finer costs a partial tile, coarser unbalances the threads: with 48-row units, the 1024
    /// rows of small128's stage 2 split 528/496 and the 256 of stage 3 144/112.
    var unit: Int { splitsRows ? (GEMMKernels.requested == .mixkit ? 12 : 16) : 32 }

    /// How many blocks the cut allows.
    var units: Int { ((splitsRows ? m : n) + unit - 1) / unit }

    /// The whole product on the calling thread.
    func runSingle() {
        blasGEMM(
            a, lda: lda, b, ldb: ldb, c, ldc: ldc, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
            alpha: alpha, beta: beta, bias: bias, epilogue: epilogue)
    }

    /// Rows (when the cut runs along M) or columns of C from unit `lo` up to unit `hi` of the cut, on the calling
    /// thread; of rows, only `columns` when given.
    func runUnits(_ firstUnit: Int, _ endUnit: Int, columns: Range<Int>? = nil) {
        let extent = splitsRows ? m : n
        let (lo, hi) = (min(extent, firstUnit * unit), min(extent, endUnit * unit))
        guard hi > lo else { return }
        if splitsRows {
            let columns = columns ?? 0..<n
            let first = columns.lowerBound
            blasGEMM(
                transposeA ? a + lo : a + lo * lda, lda: lda, transposeB ? b + first * ldb : b + first, ldb: ldb,
                c + lo * ldc + first, ldc: ldc, m: hi - lo, n: columns.count, k: k, transposeA: transposeA,
                transposeB: transposeB, alpha: alpha, beta: beta, bias: bias.map { $0 + first },
                epilogue: epilogue?.block(row: lo, column: first))
        } else {
            blasGEMM(
                a, lda: lda, transposeB ? b + lo * ldb : b + lo, ldb: ldb, c + lo, ldc: ldc, m: m, n: hi - lo, k: k,
                transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, bias: bias.map { $0 + lo },
                epilogue: epilogue?.block(row: 0, column: lo))
        }
    }

    /// The product on ``Parallel/threadCount`` threads, one block each (see ``gemm``).
    func run() {
        Profiler.measureGEMM(shapeLabel, work: work) {
            TransposedTiles.run([self]) { $0[0].runUnchanged() }
        }
    }

    /// `M x N x K`, with `Aᵀ` and `Bᵀ` for the transposed operands: the row of the profile's GEMM-shape table.
    var shapeLabel: String {
        "\(m)x\(n)x\(k)" + (transposeA ? " Aᵀ" : "") + (transposeB ? " Bᵀ" : "")
    }

    /// ``run()`` without turning a weight gradient (``TransposedTiles``).
    func runUnchanged() {
        let threads = Parallel.threadCount
        if threads == 1 || isSmall {
            Parallel.setBLASThreads(1)
            runSingle()
            return
        }
        if Parallel.gemmThreading == .openblas {
            Parallel.setBLASThreads(threads)
            openBLASGEMM(
                a, lda: lda, b, ldb: ldb, c, ldc: ldc, m: m, n: n, k: k, transposeA: transposeA,
                transposeB: transposeB, alpha: alpha, beta: beta, bias: bias)
            if var epilogue { mk_gemm_apply_epilogue(&epilogue, c, ldc, m, n) }
            return
        }
        Parallel.configure()
        GEMMPieces([self], threadsPerProduct: [min(threads, units)]).run()
    }

    /// The product over the reduction's indices `lo..<hi` only: into C as the whole product would write it (beta
    /// and the bias apply) when `partial` is nil, else into `partial` (M x N, rows N apart; nothing added).
    func runReduction(_ lo: Int, _ hi: Int, into partial: UnsafeMutablePointer<Float>?) {
        let pa = transposeA ? a + lo * lda : a + lo
        let pb = transposeB ? b + lo : b + lo * ldb
        if let partial {
            blasGEMM(
                pa, lda: lda, pb, ldb: ldb, partial, ldc: n, m: m, n: n, k: hi - lo, transposeA: transposeA,
                transposeB: transposeB, alpha: alpha)
        } else {
            blasGEMM(
                pa, lda: lda, pb, ldb: ldb, c, ldc: ldc, m: m, n: n, k: hi - lo, transposeA: transposeA,
                transposeB: transposeB, alpha: alpha, beta: beta, bias: bias, epilogue: epilogue)
        }
    }
}

extension GEMMProduct {
    /// A product of contiguous matrices: the leading dimensions follow from the shape.
    init(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int,
        k: Int, transposeA: Bool, transposeB: Bool, beta: Float = 0, bias: UnsafePointer<Float>? = nil,
        epilogue: mk_gemm_epilogue? = nil
    ) {
        self.init(
            a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, c: c, ldc: n, m: m, n: n, k: k,
            transposeA: transposeA, transposeB: transposeB, beta: beta, bias: bias, epilogue: epilogue)
    }
}

/// Weight gradients `C = Aᵀ B` of narrow layers computed as `Cᵀ = Bᵀ A` when MixKit's micro-tiles fit `Cᵀ` better:
/// 64x256 (fc2's weight in small128's first stage) fills 12-row tiles to 89%, 256x64 to 97%; 64x48 (its patch
/// embedding) fills 32-column tiles to 67%, 48x64 to 100%. One thread, K = 16384, GFLOP/s: 64x256 67 against 256x64
/// 74, 64x48 52 against 48x64 72, 64x192 63 against 192x64 81. Wider products gained nothing (256x1024 ran 91
/// against 85 for 1024x256), so only those of at most 128 rows turn. In a small128 pretraining step (median of
/// each run's later steps, two runs each way), fc2's backward pair in the first stage took 7.2-7.5 ms against
/// 8.9-10.4, in the second 6.8-7.0 against 7.1-7.9, and the patch embedding's weight gradient 1.1-1.2 against 1.6-1.7.
/// The fill counts whole tiles, as those runs measured it; since the kernel runs a last sliver of fewer rows with a
/// kernel of a third or two thirds of the tile's rows (`gemm_impl.h`), 64 rows no longer compute 72, and the turned
/// product is still the faster one: 256x64x504 Aᵀ 0.148-0.153 ms against 0.155-0.162 for 64x256x504 (one thread,
/// AVX-512, best of 15).
///
/// `Cᵀ` goes to a buffer and is copied into C afterwards. Each element is the same fused multiply-adds in the same
/// order either way, so C is bit for bit the same.
enum TransposedTiles {
    /// Rows of C up to which a product may turn.
    static let maximumRows = 128

    /// Runs `body` on `products`, each that fits its tiles better turned, then copies those results into their C.
    static func run(_ products: [GEMMProduct], _ body: ([GEMMProduct]) -> Void) {
        guard let tile = GEMMKernels.microTile, products.contains(where: { turns($0, tile: tile) }) else {
            body(products)
            return
        }
        var turned: [(product: GEMMProduct, result: Tensor)] = []
        let running = products.map { product -> GEMMProduct in
            guard turns(product, tile: tile) else { return product }
            let result = Tensor(uninitializedShape: [product.n, product.m])
            turned.append((product, result))
            return GEMMProduct(
                a: product.b, lda: product.ldb, b: product.a, ldb: product.lda, c: result.data, ldc: product.m,
                m: product.n, n: product.m, k: product.k, transposeA: true, transposeB: false, alpha: product.alpha)
        }
        body(running)
        for (product, result) in turned {
            let (source, c, m, n, ldc) = (UnsafePointer(result.data), product.c, product.m, product.n, product.ldc)
            Parallel.forRanges(m, work: m * n) { lo, hi in
                for i in lo..<hi {
                    for j in 0..<n { c[i * ldc + j] = source[j * m + i] }
                }
            }
        }
    }

    /// Whether `product` is a weight gradient (Aᵀ B, nothing added) of at most ``maximumRows`` rows whose
    /// transpose fills more of its micro-tiles.
    static func turns(_ product: GEMMProduct, tile: (rows: Int, columns: Int)) -> Bool {
        guard product.transposeA, !product.transposeB, product.beta == 0, product.bias == nil, product.epilogue == nil,
            product.m <= maximumRows, product.work >= GEMMKernels.minimumWork
        else { return false }
        return filled(rows: product.n, columns: product.m, tile: tile)
            > filled(rows: product.m, columns: product.n, tile: tile)
    }

    /// The share of the micro-tiles' multiply-adds that fall inside a `rows` x `columns` C, counting every tile whole
    /// (see above for the kernel's shorter last sliver).
    static func filled(rows: Int, columns: Int, tile: (rows: Int, columns: Int)) -> Double {
        let paddedRows = (rows + tile.rows - 1) / tile.rows * tile.rows
        let paddedColumns = (columns + tile.columns - 1) / tile.columns * tile.columns
        return Double(rows * columns) / Double(paddedRows * paddedColumns)
    }
}

/// Runs independent GEMMs (no output is another's input) at the same time, the threads shared among them in
/// proportion to their work, each product cut in as many shares as it has threads; with fewer threads than
/// products, or too little work to share, one after another as ``gemm`` runs them.
///
/// A linear layer's backward pass has two products of the same work (input and weight gradients). On two
/// threads each then is one thread's share instead of cut in two, and a thread that finishes its own early takes
/// the last pieces of the other's (``GEMMPieces``).
///
/// `sideParts` parts of other work (`side(0)` ... `side(sideParts - 1)`, independent of the products and of each
/// other) go to the threads once no piece is left to take. The profile counts their time in the products' row.
func gemmConcurrently(_ products: [GEMMProduct], sideParts: Int = 0, side: (Int) -> Void = { _ in }) {
    Profiler.measureGEMM(
        products.map(\.shapeLabel).joined(separator: " ‖ "), work: products.reduce(0) { $0 + $1.work }
    ) {
        TransposedTiles.run(products) { runConcurrently($0, sideParts: sideParts, side: side) }
    }
}

private func runConcurrently(_ products: [GEMMProduct], sideParts: Int, side: (Int) -> Void) {
    let threads = Parallel.threadCount
    let total = products.reduce(0) { $0 + $1.work }
    guard products.count > 1, threads >= products.count, total >= minimumParallelGEMM,
        Parallel.gemmThreading == .mixkit
    else {
        for product in products { product.runUnchanged() }
        Parallel.forEachPart(sideParts, side)
        return
    }
    Parallel.configure()
    // Threads per product: one each, then the rest one at a time to whichever has the most work per thread
    // among those with blocks left to cut.
    var shares = products.map { _ in 1 }
    for _ in products.count..<threads {
        let open = products.indices.filter { shares[$0] < products[$0].units }
        guard let next = open.max(by: { products[$0].work * shares[$1] < products[$1].work * shares[$0] }) else {
            break
        }
        shares[next] += 1
    }
    GEMMPieces(products, threadsPerProduct: shares).run(sideParts: sideParts, side: side)
}

/// `C = op(A) op(B) (+ bias per column) (+ C when accumulate)` for contiguous row-major matrices, threaded as
/// ``gemm``.
@inline(__always)
func sgemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool = false,
    bias: UnsafePointer<Float>? = nil
) {
    GEMMProduct(
        a, b, c, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, beta: accumulate ? 1 : 0,
        bias: bias
    ).run()
}

/// Batched `op(A) op(B)` where A is [batch, ...] and B is [batch, ...] or one
/// matrix shared by the batch; small problems run batch items on separate
/// threads with single-threaded GEMMs (see ``Parallel``).
func matmulKernel(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
    precondition(
        a.rank >= 2 && b.rank >= 2, "matmul: operands need at least 2 dimensions, got \(a.shape) and \(b.shape)")
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let m = transposeA ? ac : ar
    let k = transposeA ? ar : ac
    let kb = transposeB ? bc : br
    let n = transposeB ? br : bc
    precondition(
        k == kb,
        "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") and \(b.shape)\(transposeB ? "ᵀ" : "") (\(k) vs \(kb))"
    )
    let batchA = Array(a.shape.dropLast(2))
    let batchB = Array(b.shape.dropLast(2))
    let sharedA = batchA.allSatisfy { $0 == 1 }
    let sharedB = batchB.allSatisfy { $0 == 1 }
    Parallel.configure()
    Profiler.countGEMM(m: m, n: n, k: k, batch: max(a.count / (ar * ac), b.count / (br * bc)))
    if sharedB && !transposeA {
        // One tall GEMM over every row of the batch.
        let out = Tensor(uninitializedShape: batchA + [m, n])
        sgemm(
            a.data, b.data, out.data, m: batchA.reduce(1, *) * m, n: n, k: k, transposeA: false,
            transposeB: transposeB)
        return out
    }
    precondition(
        sharedA || sharedB || batchA == batchB, "matmul: batch dimensions differ: \(a.shape) and \(b.shape)")
    let batchShape = sharedA ? batchB : batchA
    let batch = batchShape.reduce(1, *)
    let strideA = sharedA ? 0 : ar * ac
    let strideB = sharedB ? 0 : br * bc
    let out = Tensor(uninitializedShape: batchShape + [m, n])
    let (pa, pb, po) = (a.data, b.data, out.data)
    let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
    runBatched(batch, work: m * n * k) { i, single in
        if single {
            blasGEMM(
                pa + i * strideA, lda: lda, pb + i * strideB, ldb: ldb, po + i * m * n, ldc: n, m: m, n: n, k: k,
                transposeA: transposeA, transposeB: transposeB)
        } else {
            gemm(
                pa + i * strideA, lda: lda, pb + i * strideB, ldb: ldb, po + i * m * n, ldc: n, m: m, n: n, k: k,
                transposeA: transposeA, transposeB: transposeB)
        }
    }
    return out
}

/// Runs `batch` GEMMs of `work` multiply-adds each. Small ones are spread over
/// the threads, `body(i, true)` computing item `i` on the calling thread with a
/// single-threaded sgemm; big ones run one after another, `body(i, false)`
/// splitting each over the threads (``gemm``).
func runBatched(_ batch: Int, work: Int, _ body: (Int, Bool) -> Void) {
    Parallel.configure()
    if batch == 1 || work >= 1 << 22 || Parallel.threadCount == 1 {
        for i in 0..<batch { body(i, batch == 1 && work < minimumParallelGEMM) }
        return
    }
    Parallel.forRanges(batch, work: Int.max) { lo, hi in
        for i in lo..<hi { body(i, true) }
    }
}

/// Matrix product over the last two axes, batched over the leading ones.
///
/// `b` may be a single matrix shared by every batch item. Transposes are
/// passed to BLAS, never materialised.
///
/// ```swift
/// let scores = matmul(q, k, transposeB: true)   // [B, H, N, N]
/// let y = matmul(x, w, transposeB: true)        // x [B, N, in], w [out, in]
/// ```
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    defineOp("matmul", a, b) { op in
        op.require(a.rank >= 2 && b.rank >= 2, "operands need at least 2 dimensions")
        let k = a.shape[a.rank - (transposeA ? 2 : 1)]
        let kb = b.shape[b.rank - (transposeB ? 1 : 2)]
        op.require(
            k == kb, "inner dimensions differ: \(k) vs \(kb) (transposeA \(transposeA), transposeB \(transposeB))")
        let batchA = a.shape.dropLast(2)
        let batchB = b.shape.dropLast(2)
        op.require(
            batchA.allSatisfy { $0 == 1 } || batchB.allSatisfy { $0 == 1 } || batchA == batchB,
            "batch dimensions \(Array(batchA)) and \(Array(batchB)) differ")
        let out = matmulKernel(a, b, transposeA: transposeA, transposeB: transposeB)
        return OpResult(out) { g in
            var ga: Tensor? = nil
            var gb: Tensor? = nil
            if a.needsGrad {
                ga =
                    transposeA
                    ? matmulKernel(b, g, transposeA: transposeB, transposeB: true)
                    : matmulKernel(g, b, transposeA: false, transposeB: !transposeB)
                if ga!.shape != a.shape { ga = ga!.sumToShape(a.shape) }
            }
            if b.needsGrad {
                if b.rank == 2 && a.rank > 2 {
                    gb = sharedMatrixGradient(a, g, transposeA: transposeA, transposeB: transposeB, shape: b.shape)
                } else {
                    gb =
                        transposeB
                        ? matmulKernel(g, a, transposeA: true, transposeB: transposeA)
                        : matmulKernel(a, g, transposeA: !transposeA, transposeB: false)
                }
                if gb!.shape != b.shape { gb = gb!.sumToShape(b.shape) }
            }
            return [ga, gb]
        }
    }
}

/// d loss / d B when one matrix B multiplied every item of a batched A.
private func sharedMatrixGradient(_ a: Tensor, _ g: Tensor, transposeA: Bool, transposeB: Bool, shape: [Int]) -> Tensor
{
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let batch = a.count / (ar * ac)
    let (gm, gn) = (g.shape[g.rank - 2], g.shape[g.rank - 1])
    let out = Tensor(uninitializedShape: shape)
    Profiler.countGEMM(m: shape[0], n: shape[1], k: transposeA ? ac : ar, batch: batch)
    if !transposeA {
        // Flatten the batch into rows: A [P, k], G [P, n].
        let p = batch * ar
        if transposeB {
            sgemm(g.data, a.data, out.data, m: gn, n: ac, k: p, transposeA: true, transposeB: false)
        } else {
            sgemm(a.data, g.data, out.data, m: ac, n: gn, k: p, transposeA: true, transposeB: false)
        }
        return out
    }
    for i in 0..<batch {
        let ai = a.data + i * ar * ac
        let gi = g.data + i * gm * gn
        if transposeB {
            // op(B) = Bᵀ, so dB = Σ G_iᵀ op(A_i) = Σ G_iᵀ A_iᵀ.
            sgemm(gi, ai, out.data, m: gn, n: ar, k: gm, transposeA: true, transposeB: true, accumulate: i > 0)
        } else {
            // dB = Σ op(A_i)ᵀ G_i = Σ A_i G_i.
            sgemm(ai, gi, out.data, m: ar, n: gn, k: ac, transposeA: false, transposeB: false, accumulate: i > 0)
        }
    }
    return out
}
