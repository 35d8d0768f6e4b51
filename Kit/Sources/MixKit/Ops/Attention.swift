import CKernels

/// Multi-head scaled dot-product self-attention on the packed output of a
/// `qkv` projection, in one op.
///
/// `qkv` is `[G, N, 3C]` with each token laid out as timm's `qkv` linear
/// writes it, `[3][heads][C / heads]` (queries, keys, values). For every
/// sequence (or window) `g` and head `h`:
/// `out[g, :, h] = softmax(scale * Q Kᵀ + bias[h], masked by groups) V`,
/// written as `[G, N, C]` with the heads side by side (timm's
/// `transpose(1, 2).reshape(B, N, C)`). `bias` and `groups` work as in
/// ``attentionSoftmax(_:bias:groups:period:)``.
///
/// The queries, keys and values are read in place with strided GEMMs and the
/// heads written in place, so neither pass copies or permutes a tensor; each
/// (sequence, head) pair runs on one thread from its scores to its output
/// while they are in cache. The probabilities (`G * heads * N * N` floats) are
/// kept for backward.
///
/// ```swift
/// let y = multiHeadAttention(qkv: qkv(x), heads: 4, scale: 0.125)   // [B, N, 3C] -> [B, N, C]
/// ```
public func multiHeadAttention(
    qkv: Tensor, heads: Int, scale: Float, bias: Tensor? = nil, groups: [UInt8]? = nil, period: Int = 1
) -> Tensor {
    windowAttention(qkv: qkv, heads: heads, scale: scale, bias: bias, mask: groups, spans: nil, maskPeriod: period)
}

/// Multi-head attention in windows whose tokens are sorted by group: each token
/// attends only to the tokens of its own run (``AttentionSpans``), and the
/// pairs across runs, whose probabilities would be exactly 0, are never computed.
///
/// `qkv` is `[G, N, 3C]` as in ``multiHeadAttention(qkv:heads:scale:bias:groups:period:)``,
/// window `g` at position `g % spans.period` of its image. `bias` is `[heads, N, N]`
/// (one for every window) or `[spans.period, heads, N, N]` (one per window position,
/// in that position's token order). With two equal runs per window the op does half
/// the multiply-adds of the masked op, and gives the same result.
///
/// ```swift
/// let (order, spans) = AttentionSpans.sortingWindows(groups: ids, tokens: 49)
/// // ... put every window's tokens in `order`, then:
/// let y = multiHeadAttention(qkv: qkv, heads: 3, scale: 0.18, bias: sortedBias, spans: spans)
/// ```
public func multiHeadAttention(qkv: Tensor, heads: Int, scale: Float, bias: Tensor? = nil, spans: AttentionSpans)
    -> Tensor
{
    windowAttention(qkv: qkv, heads: heads, scale: scale, bias: bias, mask: nil, spans: spans, maskPeriod: 1)
}

/// The groups of windows whose tokens are sorted by group: every maximal run of
/// equal ids in a window is one group, and its tokens attend only to each other
/// (see ``multiHeadAttention(qkv:heads:scale:bias:spans:)``).
///
/// ```swift
/// let spans = AttentionSpans(runsOf: [0, 0, 1, 1, 1, 0, 0, 0, 0, 1], tokens: 5)
/// spans.starts  // [[0, 2], [0, 4]]: two windows, runs of 2 + 3 and 4 + 1 tokens
/// ```
public struct AttentionSpans: Sendable, Equatable {
    /// Tokens per window.
    public let tokens: Int
    /// For each window position, where every run starts, ascending from 0; a run ends where the next starts,
    /// the last at ``tokens``.
    public let starts: [[Int]]

    /// Window positions per image (the period of the windows' positions in a batch).
    public var period: Int { starts.count }

    /// The runs of equal ids in `ids` (`[period * tokens]`, window after window).
    public init(runsOf ids: [UInt8], tokens: Int) {
        Self.requireWholeWindows(ids, tokens: tokens)
        self.tokens = tokens
        starts = stride(from: 0, to: ids.count, by: tokens).map { base in
            [0] + (1..<tokens).filter { ids[base + $0] != ids[base + $0 - 1] }
        }
    }

    /// Sorts each window's tokens by group id (stably) and returns, for window
    /// position `p`, `order[p * tokens + t]`: the place in the window of its `t`-th
    /// token once sorted, with the spans of the sorted windows.
    ///
    /// ```swift
    /// let (order, spans) = AttentionSpans.sortingWindows(groups: [1, 0, 1, 0], tokens: 4)
    /// // order [1, 3, 0, 2], spans.starts [[0, 2]]
    /// ```
    public static func sortingWindows(groups ids: [UInt8], tokens: Int) -> (order: [Int], spans: AttentionSpans) {
        requireWholeWindows(ids, tokens: tokens)
        var order: [Int] = []
        order.reserveCapacity(ids.count)
        for base in stride(from: 0, to: ids.count, by: tokens) {
            order += (0..<tokens).sorted { (ids[base + $0], $0) < (ids[base + $1], $1) }
        }
        let sorted = order.enumerated().map { ids[$0.offset / tokens * tokens + $0.element] }
        return (order, AttentionSpans(runsOf: sorted, tokens: tokens))
    }

    private static func requireWholeWindows(_ ids: [UInt8], tokens: Int) {
        precondition(
            tokens > 0 && !ids.isEmpty && ids.count % tokens == 0,
            "AttentionSpans: \(ids.count) group ids are not whole windows of \(tokens) tokens; pass one id per token")
    }

    /// The runs of window position `p` as (start, length).
    func runs(at p: Int) -> [(start: Int, count: Int)] {
        let s = starts[p]
        return s.indices.map { (s[$0], ($0 + 1 < s.count ? s[$0 + 1] : tokens) - s[$0]) }
    }
}

/// Where every window's runs keep their scores and probabilities: each run's
/// `[len, len]` block one after another, window after window, head after head
/// (a whole window without runs is one block of `N * N`).
private struct RunLayout {
    /// Per window position: its runs, each with the offset of its block from the window's first.
    let runs: [[(start: Int, count: Int, offset: Int)]]
    /// Per window position: its query-key pairs (the size of one head's blocks).
    let pairs: [Int]
    /// Per window position: the pairs of the positions before it, times the heads.
    let firstPair: [Int]
    /// Query-key pairs of all heads of one image's windows.
    let pairsPerImage: Int
    let heads: Int

    init(runs positionRuns: [[(start: Int, count: Int)]], heads: Int) {
        var withOffsets: [[(start: Int, count: Int, offset: Int)]] = []
        var pairs: [Int] = []
        for runs in positionRuns {
            var offset = 0
            withOffsets.append(
                runs.map { run in
                    defer { offset += run.count * run.count }
                    return (run.start, run.count, offset)
                })
            pairs.append(offset)
        }
        self.runs = withOffsets
        self.pairs = pairs
        firstPair = pairs.indices.map { heads * pairs[..<$0].reduce(0, +) }
        pairsPerImage = heads * pairs.reduce(0, +)
        self.heads = heads
    }

    var period: Int { pairs.count }

    /// Query-key pairs of all heads of `windows` windows.
    func totalPairs(windows: Int) -> Int {
        (windows / period) * pairsPerImage + (0..<(windows % period)).reduce(0) { $0 + heads * pairs[$1] }
    }

    /// Where head `h` of window `w` starts.
    func offset(window w: Int, head h: Int) -> Int {
        let p = w % period
        return (w / period) * pairsPerImage + firstPair[p] + h * pairs[p]
    }
}

/// Both attention ops: every window's tokens attend within each run of `spans` (or,
/// without spans, to the whole window, masked by the `mask` group ids). The
/// probabilities of every run are kept for backward, in the blocks of ``RunLayout``.
private func windowAttention(
    qkv: Tensor, heads: Int, scale: Float, bias: Tensor?, mask: [UInt8]?, spans: AttentionSpans?, maskPeriod: Int
) -> Tensor {
    defineOp("attention", qkv, bias) { op in
        op.require(
            qkv.rank == 3 && heads > 0 && qkv.shape[2] % (3 * heads) == 0,
            "qkv must be [G, N, 3 * C] with C divisible by \(heads) heads, got \(qkv.shape)")
        let (g, n, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let c = c3 / 3
        let d = c / heads
        var biasPositions = 1
        if let bias {
            if let spans, bias.rank == 4 {
                op.requireShape(bias, [spans.period, heads, n, n], "bias (\(spans.period) window positions)")
                biasPositions = spans.period
            } else {
                op.requireShape(bias, [heads, n, n], "bias (\(heads) heads of \(n) tokens)")
            }
        }
        if let mask {
            op.require(
                maskPeriod > 0 && mask.count == maskPeriod * n,
                "\(mask.count) group ids for period \(maskPeriod) and \(n) tokens")
        }
        if let spans {
            op.require(spans.tokens == n, "spans of \(spans.tokens)-token windows for windows of \(n) tokens")
        }
        let layout = RunLayout(
            runs: spans.map { s in (0..<s.period).map { s.runs(at: $0) } } ?? [[(start: 0, count: n)]], heads: heads)
        let pairs = layout.totalPairs(windows: g)
        let out = Tensor(uninitializedShape: [g, n, c])
        // Each thread computes a window's scores, probabilities and output in a block of its own, in cache.
        // The probabilities are then kept for the backward pass, streamed past the cache (at 196 tokens, one
        // thread, 384 heads of Swin-T's first stage: 89.8 against 100.2 us per head computed in place in the kept
        // buffer, whose lines were read in before every write). The kept buffer is sized for whole windows, not
        // `pairs`: the runs change with every mask, and the buffer pool recycles only buffers of one exact size
        // (a fresh one costs its page faults on every step).
        let chunks = attentionChunks(units: g * heads, work: pairs * d)
        let items = StealingRanges(count: g * heads, parts: chunks, grain: 4)
        // Read once, here: grad mode is the calling thread's, and the parts run on other threads too.
        let keepsProbabilities = op.isRecording
        let work = CacheLineRows(rows: chunks, columns: n * n, zeroed: false)
        let probs = Tensor(uninitializedShape: [keepsProbabilities ? g * heads * n * n : 0])
        let kernels = HeadProducts(headDim: d, tokens: n, chunks: chunks)
        let (px, po, pp) = (UnsafePointer(qkv.data), out.data, probs.data)
        let pb: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        let maskStore = mask ?? []
        Parallel.configure()
        Profiler.countGEMM(m: pairs, n: 1, k: d, batch: 2)
        maskStore.withUnsafeBufferPointer { gp in
            let gptr = mask == nil ? nil : gp.baseAddress
            Profiler.measureGEMM(attentionShapeLabel(g: g, n: n, heads: heads, phase: "forward"), work: 2 * pairs * d) {
                Parallel.forEachPart(chunks) { chunk in
                    while let block = items.take(part: chunk) {
                        for i in block {
                            // The next item: the block's, or the first of the part's next block (likely the next
                            // item again; harmless when another part takes it).
                            if i + 1 < g * heads {
                                let (w, h) = windowAndHead(item: i + 1, windows: g)
                                prefetchHead(qkv: px, window: w, head: h, heads: heads, tokens: n, width: d)
                            }
                            let (w, h) = windowAndHead(item: i, windows: g)
                            let windowBias = pb.map { $0 + ((w % biasPositions) * heads + h) * n * n }
                            let windowMask = gptr.map { $0 + (w % maskPeriod) * n }
                            let p = work.row(chunk)
                            let kept = keepsProbabilities ? pp + layout.offset(window: w, head: h) : nil
                            for run in layout.runs[w % layout.period] {
                                let q = px + (w * n + run.start) * c3 + h * d
                                let o = po + (w * n + run.start) * c + h * d
                                kernels.scores(
                                    q, lda: c3, q + c, ldb: c3, len: run.count, alpha: scale, into: p, scratch: chunk)
                                mk_attention_softmax_block(
                                    p, run.count, windowBias.map { $0 + run.start * (n + 1) }, n, windowMask, run.count)
                                kernels.apply(p, transposed: false, q + 2 * c, ldv: c3, len: run.count, into: o, ldo: c)
                                if let kept { mk_copy_streaming(kept + run.offset, p, run.count * run.count) }
                            }
                        }
                    }
                }
            }
        }
        // The loops reach `work` only through its pointers.
        work.withRows {}
        return OpResult(out) { gout in
            let dqkv = Tensor(uninitializedShape: qkv.shape)
            let wantBias = bias?.needsGrad ?? false
            // Segments of one (window position, head) unit's windows, each adding into a block of the bias gradient
            // of its own (see ``AttentionSegments``), taken by the threads as they come free.
            let chunks = attentionChunks(units: g * heads, work: pairs * d)
            let segments = AttentionSegments(
                windows: g, heads: heads, positions: biasPositions,
                segments: pairs * d >= Parallel.minimumParallelWork ? AttentionSegments.sharedSegments : 1)
            let order = StealingRanges(count: segments.all.count, parts: chunks, grain: 1)
            let scratch = CacheLineRows(rows: chunks, columns: n * n, zeroed: false)
            let biasGrad = wantBias ? Tensor.zeros(bias!.shape) : nil
            // Each run's partial block is zeroed by the thread that runs it, just before it adds into it.
            let partialGrads =
                wantBias && segments.partials > 0 ? Tensor(uninitializedShape: [segments.partials, n * n]) : nil
            // The closure holds `probs` and `qkv` (not only their pointers) so their buffers stay alive.
            let (px, pp) = (UnsafePointer(qkv.data), UnsafePointer(probs.data))
            let (pg, pdx) = (UnsafePointer(gout.data), dqkv.data)
            let (pbg, ppg) = (biasGrad?.data, partialGrads?.data)
            Profiler.countGEMM(m: pairs, n: 1, k: d, batch: 4)
            Parallel.configure()
            let kernels = HeadProducts(headDim: d, tokens: n, chunks: chunks)
            /// The backward of item `i` (window, head), with `dp` as scratch, adding into `gradBlock`.
            func backward(
                item i: Int, chunk: Int, scratch dp: UnsafeMutablePointer<Float>,
                gradBlock: UnsafeMutablePointer<Float>?
            ) {
                let (w, h) = windowAndHead(item: i, windows: g)
                let block = pp + layout.offset(window: w, head: h)
                for run in layout.runs[w % layout.period] {
                    let q = px + (w * n + run.start) * c3 + h * d
                    let dq = pdx + (w * n + run.start) * c3 + h * d
                    let go = pg + (w * n + run.start) * c + h * d
                    let (p, len) = (block + run.offset, run.count)
                    // dP = dO Vᵀ; dS (in place over dP), and its sum into the bias gradient; dV = Pᵀ dO. The
                    // softmax's backward reads P row after row, which brings it into cache for dV's reads down its
                    // columns: at 196 tokens (one thread, 384 heads of Swin-T's first stage) the backward took
                    // 140-141 against 170 us per head with dV first.
                    kernels.scores(go, lda: c, q + 2 * c, ldb: c3, len: len, alpha: 1, into: dp, scratch: chunk)
                    mk_attention_softmax_block_backward(p, dp, len, gradBlock.map { $0 + run.start * (n + 1) }, n, len)
                    kernels.apply(p, transposed: true, go, ldv: c, len: len, into: dq + 2 * c, ldo: c3)
                    // dQ = scale dS K; dK = scale dSᵀ Q.
                    kernels.apply(dp, transposed: false, q + c, ldv: c3, len: len, alpha: scale, into: dq, ldo: c3)
                    kernels.apply(dp, transposed: true, q, ldv: c3, len: len, alpha: scale, into: dq + c, ldo: c3)
                }
            }
            /// The inputs of item `i`'s backward, asked for while the item before it computes.
            func prefetch(item i: Int) {
                let (w, h) = windowAndHead(item: i, windows: g)
                prefetchHead(qkv: px, window: w, head: h, heads: heads, tokens: n, width: d, gradient: pg)
                mk_prefetch_rows(pp + layout.offset(window: w, head: h), 0, 1, layout.pairs[w % layout.period])
            }
            Profiler.measureGEMM(attentionShapeLabel(g: g, n: n, heads: heads, phase: "backward"), work: 4 * pairs * d)
            {
                Parallel.forEachPart(chunks) { chunk in
                    let dp = scratch.row(chunk)
                    while let block = order.take(part: chunk) {
                        for index in block {
                            let segment = segments.all[index]
                            let unit = segment.position * heads + segment.head
                            let gradBlock = pbg.map { segment.partial.map { ppg! + $0 * n * n } ?? $0 + unit * n * n }
                            if let gradBlock, segment.partial != nil {
                                gradBlock.initialize(repeating: 0, count: n * n)
                            }
                            for window in segment.windows {
                                let w = segment.position + window * biasPositions
                                if window + 1 < segment.windows.upperBound {
                                    prefetch(
                                        item: attentionItem(window: w + biasPositions, head: segment.head, windows: g))
                                } else if index + 1 < segments.all.count {
                                    prefetch(item: segments.firstItem(of: index + 1, windows: g))
                                }
                                backward(
                                    item: attentionItem(window: w, head: segment.head, windows: g), chunk: chunk,
                                    scratch: dp, gradBlock: gradBlock)
                            }
                        }
                    }
                }
            }
            scratch.withRows {}
            if let pbg, let ppg { segments.addPartials(UnsafePointer(ppg), into: pbg, blockSize: n * n, heads: heads) }
            return [dqkv, biasGrad]
        }
    }
}

/// Parts of an attention pass (one per compute thread), or one when its `work` (query-key pairs times the head
/// dimension) is too small to share. Each part starts on an equal share of the pass (the forward's (window, head)
/// items, four at a time; the backward's runs of windows, ``AttentionSegments``) and then takes what is left of the
/// other parts' shares from their ends (``StealingRanges``). With fixed shares, one thread of small128's first stage
/// finished 15-30% of the pass before the other, the same thread call after call for minutes, then neither
/// (`CLOCK_MONOTONIC` around each part, in the step). Zen 4, small128 finetuning, 20 steps, fixed halves and
/// taking alternating step by step in one process (medians of the calls' wall time, their sums in brackets), the first
/// stage (256 windows of 64 tokens, 2 heads): AVX2 forward 4.22 against 4.90 ms (92 against 105 ms), backward 6.15
/// against 7.10 (135 against 153); AVX-512 in the same minutes forward 3.37 against 3.25 (74 against 105), backward
/// 4.55 against 5.03 (113 against 133). In four alternating AVX2 step profiles of each build, the attention op took
/// 18.9 against 21.0 ms forward and 28.9 against 31.5 backward a step. Each part asks for the inputs of the item
/// after the one it computes, across the end of a block too: with the prefetch inside blocks only, a quarter of the
/// forward's items went without it, and on a steady AVX-512 minute that version's forward ran 2.50 against 2.35 ms
/// for fixed halves.
private func attentionChunks(units: Int, work: Int) -> Int {
    work >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, units) : 1
}

/// The row of one attention op's pass in the profile's GEMM-shape table: its windows, tokens and heads.
private func attentionShapeLabel(g: Int, n: Int, heads: Int, phase: String) -> String {
    "attention \(g) windows x \(n) tokens x \(heads) heads, \(phase)"
}

/// The window and head of an attention pass's `item`: head after head, each head's windows in order, so that
/// a thread's items in a row read the same head's block of the bias (and add into the same block of its
/// gradient) while it is in cache. Against window after window, one thread, a C harness running the forward
/// products and softmax as the op does: 8 windows of 196 tokens with 12 heads (Swin-T's third stage, a 1.8 MB
/// bias) 76.6-83.1 against 79.3-85.2 us per head, 8 windows of 49 tokens with 24 heads 6.10-7.17 against
/// 6.83-7.46; the backward of 4 windows with 12 heads 117.9-119.9 against 120.4-127.2.
private func windowAndHead(item: Int, windows: Int) -> (window: Int, head: Int) {
    (item % windows, item / windows)
}

/// The item of `head` of `window` (the inverse of ``windowAndHead(item:windows:)``).
private func attentionItem(window: Int, head: Int, windows: Int) -> Int {
    head * windows + window
}

/// Asks for the queries, keys and values of `head` of `window` in the packed `qkv`
/// (`[G, tokens, 3 * heads * width]`), and with `gradient` its rows of the output's gradient
/// (`[G, tokens, heads * width]`), to be brought into cache while the current item computes: each head reads
/// a 128-byte slice of rows 3C floats apart, which the hardware's prefetchers do not fetch ahead. One thread,
/// AVX-512, small128's first stage (128 windows of 64 tokens, 2 heads, qkv from memory), the forward products
/// and softmax: 2.31-2.67 against 2.56-2.96 ms. In small128 inference steps (4 alternating runs each way) the
/// attention op took 12.7-13.7 against 13.9-15.7 ms per step.
private func prefetchHead(
    qkv: UnsafePointer<Float>, window w: Int, head h: Int, heads: Int, tokens: Int, width: Int,
    gradient: UnsafePointer<Float>? = nil
) {
    let c = heads * width
    let q = qkv + w * tokens * 3 * c + h * width
    for part in 0..<3 { mk_prefetch_rows(q + part * c, 3 * c, tokens, width) }
    if let gradient { mk_prefetch_rows(gradient + w * tokens * c + h * width, c, tokens, width) }
}

/// The two products of one head's attention over a run of `len` tokens, `S = alpha A Bᵀ` and
/// `O = alpha op(P) V`: CKernels' `mk_attention_scores` and `mk_attention_apply` when the head
/// dimension is theirs (32) and the kernel path has them (avx2, avx512), else the BLAS. Each
/// thread's chunk has its own scratch for the transposed B.
///
/// ```swift
/// let kernels = HeadProducts(headDim: 32, tokens: 64, chunks: 2)
/// kernels.scores(q, lda: 96, k, ldb: 96, len: 64, alpha: 0.18, into: p, scratch: 0)
/// kernels.apply(p, transposed: false, v, ldv: 96, len: 64, into: o, ldo: 32)
/// ```
struct HeadProducts {
    let headDim: Int
    /// The transposed B of each chunk, on cache lines of its own (nil when the BLAS runs the products).
    private let scratch: CacheLineRows?
    /// Whether CKernels' products may run (the path may still leave them to the BLAS).
    private var usesKernels: Bool { scratch != nil }

    init(headDim: Int, tokens: Int, chunks: Int) {
        self.headDim = headDim
        let width = (tokens + Int(MK_ATTENTION_HEAD_DIM) - 1) / Int(MK_ATTENTION_HEAD_DIM) * Int(MK_ATTENTION_HEAD_DIM)
        scratch =
            headDim == Int(MK_ATTENTION_HEAD_DIM) && GEMMKernels.requested == .mixkit
            ? CacheLineRows(rows: chunks, columns: Int(MK_ATTENTION_HEAD_DIM) * width, zeroed: false) : nil
    }

    /// `s[len, len] = alpha a bᵀ` (rows `len` apart), where `a` and `b` are `[len, headDim]` with rows `lda` and
    /// `ldb` apart.
    func scores(
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int, len: Int, alpha: Float,
        into s: UnsafeMutablePointer<Float>, scratch chunk: Int
    ) {
        if let scratch,
            mk_attention_scores(a, lda, b, ldb, len, alpha, s, len, scratch.row(chunk)) != 0
        {
            return
        }
        blasGEMM(
            a, lda: lda, b, ldb: ldb, s, ldc: len, m: len, n: len, k: headDim, transposeA: false, transposeB: true,
            alpha: alpha)
    }

    /// `out[len, headDim] = alpha op(p) v` (rows `ldo` apart), where `p` is `[len, len]` (rows `len` apart), op(p)
    /// is `p` or `pᵀ`, and `v` is `[len, headDim]` with rows `ldv` apart.
    func apply(
        _ p: UnsafePointer<Float>, transposed: Bool, _ v: UnsafePointer<Float>, ldv: Int, len: Int, alpha: Float = 1,
        into out: UnsafeMutablePointer<Float>, ldo: Int
    ) {
        if usesKernels, mk_attention_apply(p, len, transposed ? 1 : 0, v, ldv, len, alpha, out, ldo) != 0 { return }
        blasGEMM(
            p, lda: len, v, ldb: ldv, out, ldc: ldo, m: len, n: headDim, k: len, transposeA: transposed,
            transposeB: false, alpha: alpha)
    }
}

/// The attention backward's work in segments that the threads take as they come free (``StealingRanges``). A unit
/// is a window position and a head: its windows (`position`, `position + positions`, ... below the window count) all
/// add into one `[N, N]` block of the bias gradient. With few units, each unit's windows are cut into runs of
/// consecutive windows, about `segments` runs in all: a unit's first run adds into the unit's block and each later
/// run into a partial block of its own, added to the unit's block in run order once every run is done. The sums
/// then depend neither on which thread ran which run nor on the thread count.
///
/// ```swift
/// let work = AttentionSegments(windows: 256, heads: 2, positions: 1, segments: 32)
/// work.all.count   // 32: 16 runs of 16 windows per head
/// work.partials    // 30
/// ```
struct AttentionSegments {
    /// Runs in all when a pass is shared among threads: about 16 per thread on 2 threads, 4 on 8.
    static let sharedSegments = 32

    /// One run of a unit's windows.
    struct Segment {
        var position: Int
        var head: Int
        /// Indices into the unit's windows: window `position + index * positions`.
        var windows: Range<Int>
        /// The run's partial block of the bias gradient; nil for a unit's first run.
        var partial: Int?
    }

    /// Unit after unit (window position after position, each position's heads in order), each unit's runs in
    /// window order.
    let all: [Segment]
    /// Partial blocks of the bias gradient.
    let partials: Int
    /// Window positions with a bias block of their own (1: one bias for every window).
    let positions: Int

    /// The runs of `windows` windows with `heads` heads and a bias block per window position (`positions` of
    /// them, or 1 for one bias for every window), about `segments` in all (at least one per unit).
    init(windows: Int, heads: Int, positions: Int, segments: Int) {
        var all: [Segment] = []
        var partials = 0
        let usedPositions = Swift.min(positions, windows)
        let units = Swift.max(1, usedPositions * heads)
        let runsPerUnit = (segments + units - 1) / units
        for position in 0..<usedPositions {
            let count = (windows - position + positions - 1) / positions
            let runs = Swift.max(1, Swift.min(runsPerUnit, count))
            for head in 0..<heads {
                for run in 0..<runs {
                    let range = count * run / runs..<count * (run + 1) / runs
                    all.append(
                        Segment(position: position, head: head, windows: range, partial: run > 0 ? partials : nil))
                    if run > 0 { partials += 1 }
                }
            }
        }
        self.all = all
        self.partials = partials
        self.positions = positions
    }

    /// The (window, head) item of run `index`'s first window, among `windows` windows.
    func firstItem(of index: Int, windows: Int) -> Int {
        let segment = all[index]
        return attentionItem(
            window: segment.position + segment.windows.lowerBound * positions, head: segment.head, windows: windows)
    }

    /// Adds each later run's partial block (`blockSize` floats each, in `partials`) to its unit's block of
    /// `gradient` (`[positions, heads, blockSize]`), in run order; the threads share the blocks' columns.
    func addPartials(
        _ partials: UnsafePointer<Float>, into gradient: UnsafeMutablePointer<Float>, blockSize: Int, heads: Int
    ) {
        let later = all.compactMap { segment in
            segment.partial.map { (partial: $0, unit: segment.position * heads + segment.head) }
        }
        Parallel.forRanges(blockSize, work: later.count * blockSize) { lo, hi in
            for (partial, unit) in later {
                mk_accumulate(partials + partial * blockSize + lo, 1, gradient + unit * blockSize + lo, hi - lo)
            }
        }
    }
}
