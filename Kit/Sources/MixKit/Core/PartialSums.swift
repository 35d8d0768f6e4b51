import CKernels

/// Rows that different threads write at the same time, each on cache lines of its own.
///
/// The rows of a plain `[rows, columns]` tensor share a cache line where one ends and the next begins (unless
/// `columns` is a multiple of 16 and the tensor starts on a line), and two threads writing neighbouring rows then
/// pass that line between their cores on every write. LayerNorm's backward adds into its weight and bias gradient
/// rows once per input row: in small128 finetuning it took 4.0-8.4 ms per step with shared lines (17-23 ms while
/// another process ran) and 3.5-4.0 ms with lines of its own (alternating runs, `MIXMAE_PROFILE=1`); how much a
/// run lost depended on where its buffers happened to start.
///
/// ```swift
/// let scratch = CacheLineRows(rows: Parallel.threadCount, columns: 64 * 64, zeroed: false)
/// Parallel.forEachPart(Parallel.threadCount) { part in useScratch(scratch.row(part)) }
/// scratch.withRows {}   // the rows live until the loop above is done
/// ```
struct CacheLineRows {
    /// Floats per cache line.
    static let lineFloats = 16

    let rows: Int
    let columns: Int
    /// Floats from one row to the next: `columns` rounded up to whole cache lines.
    let stride: Int
    private let storage: Tensor
    private let base: UnsafeMutablePointer<Float>

    /// `rows` rows of `columns` floats, zeros when `zeroed`.
    init(rows: Int, columns: Int, zeroed: Bool) {
        self.rows = rows
        self.columns = columns
        stride = (columns + Self.lineFloats - 1) / Self.lineFloats * Self.lineFloats
        let count = rows * stride + Self.lineFloats
        storage = zeroed ? Tensor.zeros([count]) : Tensor(uninitializedShape: [count])
        let lineBytes = Self.lineFloats * MemoryLayout<Float>.stride
        let misalignment = Int(bitPattern: storage.data) % lineBytes
        base = storage.data + (lineBytes - misalignment) % lineBytes / MemoryLayout<Float>.stride
    }

    /// Row `index`'s `columns` floats, on cache lines no other row touches. The pointer is valid while this value
    /// is alive: a loop that reaches the rows only through it ends with ``withRows(_:)``.
    func row(_ index: Int) -> UnsafeMutablePointer<Float> { base + index * stride }

    /// Keeps the rows alive until `body` returns (for loops that reach them only through ``row(_:)``'s pointers).
    func withRows<T>(_ body: () throws -> T) rethrows -> T { try withExtendedLifetime(storage, body) }
}

/// Rows of partial sums that threads add into at the same time, each row on cache lines of its own
/// (``CacheLineRows``), then added up in a fixed order, so the result does not depend on which thread ran which row.
///
/// ```swift
/// let sums = PartialSums(parts: 2, columns: 64)
/// Parallel.forEachPart(2) { p in mk_col_sum_accumulate(x + p * 512 * 64, 512, 64, sums.row(p)) }
/// let total = sums.total()   // [64]: row 0 + row 1
/// ```
struct PartialSums {
    private let rows: CacheLineRows

    /// `parts` rows of `columns` zeros; rows left unset with `zeroed` false, for callers whose first write to each
    /// row stores instead of adding (a GEMM with beta 0).
    init(parts: Int, columns: Int, zeroed: Bool = true) {
        rows = CacheLineRows(rows: parts, columns: columns, zeroed: zeroed)
    }

    var parts: Int { rows.rows }
    var columns: Int { rows.columns }

    /// Row `part`'s `columns` floats, on cache lines no other row touches (valid while this value is alive; see
    /// ``withRows(_:)``).
    func row(_ part: Int) -> UnsafeMutablePointer<Float> { rows.row(part) }

    /// Keeps the rows alive until `body` returns (for loops that reach them only through ``row(_:)``'s pointers).
    func withRows<T>(_ body: () throws -> T) rethrows -> T { try rows.withRows(body) }

    /// The sum of the rows, `[columns]`: each column added row after row in row order, the threads splitting the
    /// columns, so the bits depend neither on which thread ran which row nor on the thread count.
    func total() -> Tensor {
        let (parts, columns) = (parts, columns)
        guard parts > 0 else { return Tensor.zeros([columns]) }
        let sum = Tensor(uninitializedShape: [columns])
        let destination = sum.data
        rows.withRows {
            Parallel.forRanges(columns, work: parts * columns) { lo, hi in
                (destination + lo).update(from: row(0) + lo, count: hi - lo)
                for part in 1..<parts { mk_accumulate(row(part) + lo, 1, destination + lo, hi - lo) }
            }
        }
        return sum
    }
}
