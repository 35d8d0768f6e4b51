import CKernels

/// Threaded GEMMs that rebalance while they run: each thread has a home (a product, or its share of one) cut in
/// pieces that it takes from the front, largest first; a thread whose home is done takes the last, smallest piece
/// of the home with the most work left. The work the threads end up doing depends on how fast each ran, so a
/// thread slowed by the machine (another process, an interrupt, a cache it shares) no longer holds the other
/// waiting at the end of every product.
///
/// In small128's finetuning step on 2 threads, one thread finished its half of a linear layer's backward pair (or
/// of a forward product) on average 1 ms before the other on 6-ms products, 10% of the step, and as often one
/// thread as the other: the products are of equal work, but the machine's pace is not.
///
/// Pieces run along the product's cut (rows or columns of C), which computes every element of C with the same
/// multiply-adds in the same order as one block does: the result does not depend on the cut or on which thread
/// ran what. A weight gradient with a long reduction (K at least ``reductionCutRatio`` times M and N) whose home
/// is one thread's is cut along K instead, each piece after the first into a partial product of its own, added to C in a fixed order
/// once every piece has run: its rows are few (a cut along them packs all of B again for each piece) and its
/// C small. That sum rounds differently from one pass over K, the same for any threads' timing.
///
/// ```swift
/// GEMMPieces(products, threadsPerProduct: [1, 1]).run()   // two products, a thread each, balanced
/// ```
struct GEMMPieces {
    /// A home's pieces as sixteenths of it, in the order its own thread takes them: half, then a quarter, an
    /// eighth and two sixteenths, so another thread takes about a sixteenth at a time from its end (more where
    /// pieces too small to pay for their packing merged into the one before them: see ``pieces(product:span:_:_:step:minimumSpan:work:)``).
    static let sixteenths = [8, 4, 2, 1, 1]

    /// Fewest multiply-adds in a piece (about 40 microseconds of one thread): smaller pieces merge with the one
    /// before them.
    static let minimumPieceWork = 4 * GEMMKernels.minimumWork

    /// A weight gradient is cut along K when K is at least this many times its M and its N.
    static let reductionCutRatio = 8

    /// Part of one product: C's rows or columns `lo..<hi` along its cut, or its reduction over `lo..<hi`.
    struct Piece: Sendable {
        enum Span: Sendable { case cut, reduction }
        var product: Int
        var span: Span
        var lo: Int
        var hi: Int
        /// Multiply-adds.
        var work: Int
        /// For reduction pieces after the first: the partial product (index into the product's partials).
        var partial: Int?
        /// For a piece of rows: its columns of C when it has only some of them (see ``columnSlices(_:)``).
        var columns: Range<Int>? = nil
    }

    private let products: [GEMMProduct]
    /// Every home's pieces, home after home, each home's in the order its own thread takes them.
    private let pieces: [Piece]
    private let homeCount: Int
    /// Per product cut along K: the partial products of its pieces after the first, `[pieces - 1, M * N]`.
    private let partials: [Int: Tensor]
    /// Which pieces are still to take: a home's own thread from its front, others from the back of the home with
    /// the most work left.
    private let queue: StealingRanges

    /// The pieces of `products`, product `i` shared by `threadsPerProduct[i]` homes (one per thread).
    init(_ products: [GEMMProduct], threadsPerProduct: [Int]) {
        precondition(products.count == threadsPerProduct.count, "GEMMPieces: one thread count per product")
        var homes: [[Piece]] = []
        var partials: [Int: Tensor] = [:]
        for (index, product) in products.enumerated() {
            let threads = threadsPerProduct[index]
            if threads == 1 && Self.cutsReduction(product) {
                let pieces = Self.pieces(
                    product: index, span: .reduction, 0, product.k, step: 16, minimumSpan: Self.minimumRepackedSpan
                ) {
                    product.m * product.n * ($1 - $0)
                }
                let numbered = pieces.enumerated().map { number, piece in
                    var piece = piece
                    piece.partial = number == 0 ? nil : number - 1
                    return piece
                }
                if numbered.count > 1 {
                    partials[index] = Tensor(uninitializedShape: [numbered.count - 1, product.m * product.n])
                }
                homes.append(numbered)
                continue
            }
            let units = product.units
            let workPerUnit = product.work / Swift.max(units, 1)
            for home in 0..<threads {
                let pieces = Self.pieces(
                    product: index, span: .cut, units * home / threads, units * (home + 1) / threads, step: 1,
                    minimumSpan: Self.minimumUnits(product)
                ) { workPerUnit * ($1 - $0) }
                homes.append(Self.slicingLast(pieces, columns: product.n, into: Self.columnSlices(product)))
            }
        }
        self.products = products
        pieces = homes.flatMap { $0 }
        homeCount = homes.count
        self.partials = partials
        let starts = homes.reduce(into: [0]) { starts, home in starts.append(starts.last! + home.count) }
        queue = StealingRanges(
            homes: zip(starts, starts.dropFirst()).map { $0..<$1 }, grain: 1, work: pieces.map(\.work))
    }

    /// Fewest rows, columns or reduction indices in a piece that packs an operand its home has packed already
    /// (rows cut: B; columns of a transposed A: A; reduction: its partial product, M x N): the extra copy costs
    /// about as much as multiplying 12-25 rows, so at 256 rows it is 5-10% of the piece. Without this floor,
    /// small128's stage-3 products lost (1024x256x1024 Bᵀ 3.88 against 3.19 ms per call); 512 measured the same
    /// as 256.
    static let minimumRepackedSpan = 256

    /// Fewest units of `product`'s cut in a piece: ``minimumRepackedSpan`` where each piece packs again the
    /// operand it does not cut (B under a row cut, a transposed A under a column cut), else 2 (columns of an A
    /// read in place).
    static func minimumUnits(_ product: GEMMProduct) -> Int {
        product.splitsRows || product.transposeA ? (minimumRepackedSpan + product.unit - 1) / product.unit : 2
    }

    /// Most column slices of a home's last piece of rows, and the fewest columns in one.
    static let (maximumColumnSlices, minimumSliceColumns) = (4, 128)

    /// Column slices of a home's last piece of rows: the last piece the home's thread takes, and the first that
    /// another takes from it. A piece of rows packs all of B again, so pieces of rows stay long
    /// (``minimumRepackedSpan``) and the last one is a large share of the home: on small128's forward products, a
    /// thread done early waited for half of such a piece on average (busy 88-95%). Slices of its columns pack only
    /// their own columns of B, so they cost no more packing, and each element is computed as the whole piece
    /// computes it. Rows of an A read in place only (a transposed A is packed per piece). Zen 4, AVX2, four
    /// alternating small128 finetuning profiles of each build: the fc2 backward pair `1024x1024x256 ‖ 256x1024x1024
    /// Aᵀ` 33.8 against 35.9 ms a step (busy 98.1 against 95.6%), the other large shapes within 0-1 ms, busy up by
    /// 0-1%; the step 393 against 399 ms (medians).
    static func columnSlices(_ product: GEMMProduct) -> Int {
        guard product.splitsRows, !product.transposeA else { return 1 }
        return Swift.max(1, Swift.min(maximumColumnSlices, product.n / minimumSliceColumns))
    }

    /// `pieces` with its last piece cut into `slices` pieces of its columns (boundaries multiples of 32 columns).
    static func slicingLast(_ pieces: [Piece], columns n: Int, into slices: Int) -> [Piece] {
        guard slices > 1, let last = pieces.last else { return pieces }
        var sliced = Array(pieces.dropLast())
        for slice in 0..<slices {
            let lo = slice == 0 ? 0 : n * slice / slices / 32 * 32
            let hi = slice == slices - 1 ? n : n * (slice + 1) / slices / 32 * 32
            guard hi > lo else { continue }
            var piece = last
            piece.columns = lo..<hi
            piece.work = last.work / n * (hi - lo)
            sliced.append(piece)
        }
        return sliced
    }

    /// Whether `product` is a weight gradient (Aᵀ B, no bias or epilogue) whose reduction is long enough to cut.
    static func cutsReduction(_ product: GEMMProduct) -> Bool {
        product.transposeA && !product.transposeB && product.bias == nil && product.epilogue == nil
            && product.k >= reductionCutRatio * Swift.max(product.m, product.n)
    }

    /// `lo..<hi` in pieces of ``sixteenths`` (boundaries multiples of `step` from `lo`), merging any piece under
    /// ``minimumPieceWork`` or shorter than `minimumSpan` into the one before it.
    static func pieces(
        product: Int, span: Piece.Span, _ lo: Int, _ hi: Int, step: Int, minimumSpan: Int, work: (Int, Int) -> Int
    ) -> [Piece] {
        guard hi > lo else { return [] }
        let steps = (hi - lo) / step
        var bounds = [lo]
        var sum = 0
        for share in sixteenths.dropLast() {
            sum += share
            let bound = lo + steps * sum / 16 * step
            if bound > bounds.last! && bound < hi { bounds.append(bound) }
        }
        bounds.append(hi)
        var pieces: [Piece] = []
        for (start, end) in zip(bounds, bounds.dropFirst()) {
            let piece = Piece(product: product, span: span, lo: start, hi: end, work: work(start, end), partial: nil)
            if let last = pieces.last, piece.work < minimumPieceWork || end - start < minimumSpan {
                pieces[pieces.count - 1] = Piece(
                    product: product, span: span, lo: last.lo, hi: end, work: last.work + piece.work, partial: nil)
            } else {
                pieces.append(piece)
            }
        }
        return pieces
    }

    /// Runs every piece on the pool, each home's thread starting at its front; `side(0)` ... `side(sideParts - 1)`
    /// (independent work) go to the threads that run out of pieces. Then adds the partial products.
    func run(sideParts: Int = 0, side: (Int) -> Void = { _ in }) {
        Parallel.forEachPart(homeCount + sideParts) { part in
            guard part < homeCount else { return side(part - homeCount) }
            while let taken = queue.take(part: part) {
                for index in taken { run(pieces[index]) }
            }
        }
        for (index, partial) in partials.sorted(by: { $0.key < $1.key }) {
            let product = products[index]
            let (m, n) = (product.m, product.n)
            for number in 0..<partial.shape[0] {
                let source = UnsafePointer(partial.data) + number * m * n
                for row in 0..<m { mk_accumulate(source + row * n, 1, product.c + row * product.ldc, n) }
            }
        }
    }

    private func run(_ piece: Piece) {
        let product = products[piece.product]
        switch piece.span {
        case .cut: product.runUnits(piece.lo, piece.hi, columns: piece.columns)
        case .reduction:
            let partial = piece.partial.map { partials[piece.product]!.data + $0 * product.m * product.n }
            product.runReduction(piece.lo, piece.hi, into: partial)
        }
    }
}
