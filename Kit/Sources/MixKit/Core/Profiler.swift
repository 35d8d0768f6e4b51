import CKernels
import Foundation
import Synchronization

/// Wall time, call counts and GEMM work per op, to see where a training step goes.
///
/// Every public op of MixKit (and the backward closure of every recorded op)
/// runs inside ``measure(_:_:_:)``; while the profiler is active, the time of
/// the outermost measured op is added to its row (op name, phase), so nested
/// ops never count twice. GEMM-backed ops also count their floating-point
/// work, which gives their GFLOP/s. Time outside any op (model glue, the
/// autograd engine's bookkeeping) shows as its own row. A second table lists
/// the GEMM calls by shape (M x N x K, transposes, and the products run at the
/// same time), with each shape's GFLOP/s over all its calls, in its median
/// call and in its fastest, and the share of the compute threads' time its
/// calls kept busy (a thread that waits for another to finish its share, or
/// to start, is not busy).
///
/// Two ways to use it:
/// - `MIXMAE_PROFILE=1` in the environment: every step after the first is
///   profiled (the first step, up to the end of its optimizer update, is a
///   warm-up and is discarded) on the first thread that runs an op, and the
///   table is printed to standard error when the process exits.
/// - The API, around the steps to profile:
///
/// ```swift
/// Profiler.start()
/// for _ in 0..<5 { trainStep() }
/// print(Profiler.report())
/// Profiler.stop()
/// ```
///
/// A profile belongs to one thread: ``start()`` begins (or restarts) the
/// calling thread's profile, and the ops, backward passes and optimizer
/// updates of that thread are what it counts; ``summary()`` and ``report()``
/// read it. Work on other threads (another test running in parallel, another
/// model training in the same process) is neither counted nor disturbed.
///
/// To count the GEMM work of a piece of code (a compute count, not a timing),
/// use ``gemmWork(of:)``: it counts on its own and leaves the thread's profile,
/// started by the API or by the environment switch, as it is.
public enum Profiler {
    /// Which pass an op's time belongs to.
    public enum Phase: String, Sendable {
        case forward, backward, optimizer
    }

    /// One row of the profile: totals since the profiler was (re)started.
    public struct Entry: Sendable {
        public var op: String
        public var phase: Phase
        public var calls: Int
        public var seconds: Double
        /// Floating-point operations done by GEMMs inside the op (2 per multiply-add).
        public var flops: Double
    }

    /// GEMM work by phase, as ``gemmWork(of:)`` counts it: floating-point
    /// operations (2 per multiply-add) of the GEMMs inside measured ops, each
    /// in the phase of the outermost measured op around it.
    ///
    /// ```swift
    /// let work = Profiler.gemmWork { _ = matmul(a, b) }
    /// print(work.forward / 1e9, "GFLOP")
    /// ```
    public struct GEMMWork: Sendable, Equatable {
        public var forward: Double
        public var backward: Double
        public var optimizer: Double

        public init(forward: Double = 0, backward: Double = 0, optimizer: Double = 0) {
            self.forward = forward
            self.backward = backward
            self.optimizer = optimizer
        }

        /// The work of every phase.
        public var total: Double { forward + backward + optimizer }

        /// The work of `phase`.
        public subscript(phase: Phase) -> Double {
            get {
                switch phase {
                case .forward: forward
                case .backward: backward
                case .optimizer: optimizer
                }
            }
            set {
                switch phase {
                case .forward: forward = newValue
                case .backward: backward = newValue
                case .optimizer: optimizer = newValue
                }
            }
        }

        /// The work done between `earlier` and this reading of a running tally.
        func since(_ earlier: GEMMWork) -> GEMMWork {
            GEMMWork(
                forward: forward - earlier.forward, backward: backward - earlier.backward,
                optimizer: optimizer - earlier.optimizer)
        }
    }

    /// A snapshot of the profile.
    public struct Summary: Sendable {
        /// Rows, largest time first.
        public var entries: [Entry]
        /// Wall time from the (re)start of the profiler to the end of the last step.
        public var wallSeconds: Double
        /// Steps in that time: optimizer updates, or backward passes when there were none.
        public var steps: Int
        /// Wall time not inside any measured op.
        public var unattributedSeconds: Double {
            max(0, wallSeconds - entries.reduce(0) { $0 + $1.seconds })
        }
    }

    private struct Key: Hashable {
        var op: String
        var phase: Phase
    }

    /// The GEMM calls of one shape in a profile (every call the same work): their count, time, work, fastest and
    /// median.
    struct GEMMShapeRow {
        /// How many of a shape's latest call times the median is taken over (a long profiled run keeps no more).
        static let recentCallsKept = 1024

        private(set) var calls = 0
        private(set) var seconds = 0.0
        private(set) var flops = 0.0
        private(set) var fastestSeconds = Double.infinity
        /// The latest calls' times, at most ``recentCallsKept``: once full, call `i` overwrites slot
        /// `i % recentCallsKept`.
        private(set) var recentSeconds: [Double] = []
        /// Time the compute threads spent on the calls' work, summed over the threads (the calling thread's time
        /// outside the pool's regions, and every part the pool ran).
        var busyThreadSeconds = 0.0
        /// The calls' wall time times the compute threads: what `busyThreadSeconds` would be with no thread idle.
        var threadSeconds = 0.0

        /// The share of the compute threads' time the calls kept busy, from 0 to 1.
        var busyShare: Double { threadSeconds > 0 ? min(1, busyThreadSeconds / threadSeconds) : 1 }

        /// The median of the latest calls' times (the mean of the middle two for an even count): unlike the mean,
        /// it stays where most calls ran when a few were slowed (another process, an interrupt). A mean time far
        /// above it (a rate far below the median's) says the machine, one near it the code. The mean and the fastest
        /// cover every call, the median only the latest ``recentCallsKept``: in a longer run they can also differ
        /// because the calls' speed changed over the run.
        var medianSeconds: Double {
            guard !recentSeconds.isEmpty else { return .infinity }
            let sorted = recentSeconds.sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }

        /// Adds one call of `seconds` wall time and `flops` work.
        mutating func add(seconds: Double, flops: Double) {
            if recentSeconds.count < Self.recentCallsKept {
                recentSeconds.append(seconds)
            } else {
                recentSeconds[calls % Self.recentCallsKept] = seconds
            }
            calls += 1
            self.seconds += seconds
            self.flops += flops
            fastestSeconds = min(fastestSeconds, seconds)
        }
    }

    /// One thread's profile.
    private final class Session {
        var isActive = true
        var depth = 0
        var pendingFlops = 0.0
        var rows: [Key: Entry] = [:]
        /// GEMM calls by shape (see ``Profiler/measureGEMM(_:work:_:)``).
        var shapes: [String: GEMMShapeRow] = [:]
        var startNanos: UInt64 = 0
        var stopNanos: UInt64?
        var optimizerSteps = 0
        var backwardPasses = 0
        var markedSteps = 0
        var lastOptimizerStepNanos: UInt64 = 0
        var lastBackwardNanos: UInt64 = 0
        var lastMarkedStepNanos: UInt64 = 0
        var warmUpPending = false

        init(warmUp: Bool) { restart(warmUp: warmUp) }

        func restart(warmUp: Bool) {
            rows = [:]
            shapes = [:]
            depth = 0
            pendingFlops = 0
            optimizerSteps = 0
            backwardPasses = 0
            markedSteps = 0
            startNanos = Profiler.now()
            stopNanos = nil
            warmUpPending = warmUp
        }

        func measure<R>(_ op: String, _ phase: Phase, _ body: () throws -> R) rethrows -> R {
            guard depth == 0 else { return try body() }
            depth = 1
            pendingFlops = 0
            let t0 = Profiler.now()
            defer {
                let seconds = Double(Profiler.now() - t0) * 1e-9
                depth = 0
                let key = Key(op: op, phase: phase)
                var row = rows[key] ?? Entry(op: op, phase: phase, calls: 0, seconds: 0, flops: 0)
                row.calls += 1
                row.seconds += seconds
                row.flops += pendingFlops
                rows[key] = row
                pendingFlops = 0
            }
            return try body()
        }

        func summary() -> Summary {
            let (steps, end): (Int, UInt64) =
                optimizerSteps > 0
                ? (optimizerSteps, lastOptimizerStepNanos)
                : backwardPasses > 0
                    ? (backwardPasses, lastBackwardNanos)
                    : markedSteps > 0 ? (markedSteps, lastMarkedStepNanos) : (0, stopNanos ?? Profiler.now())
            return Summary(
                entries: rows.values.sorted { $0.seconds > $1.seconds },
                wallSeconds: Double(end - startNanos) * 1e-9, steps: steps)
        }
    }

    /// One thread's running GEMM tally for ``gemmWork(of:)``: it only grows, and a
    /// count is the difference of two readings, so counts can nest. It follows
    /// the measured ops on its own, apart from the thread's profile ``Session``.
    private final class GEMMTally {
        /// Counts running on the thread; the tally follows ops only while one runs.
        var openCounts = 0
        var depth = 0
        var phase = Phase.forward
        var work = GEMMWork()

        func measure<R>(_ phase: Phase, _ body: () throws -> R) rethrows -> R {
            guard depth == 0 else { return try body() }
            depth = 1
            self.phase = phase
            defer { depth = 0 }
            return try body()
        }

        /// GEMM work inside a measured op; work outside any op is not counted, as in a profile.
        func add(_ flops: Double) {
            if depth > 0 { work[phase] += flops }
        }
    }

    /// The calling thread's GEMM tally (retained by the key; released when the thread ends).
    private static let tallyKey: pthread_key_t = makeThreadKey()

    /// The calling thread's tally while a count runs on it.
    @inline(__always)
    private static func countingTally() -> GEMMTally? {
        guard let raw = pthread_getspecific(tallyKey) else { return nil }
        let tally = Unmanaged<GEMMTally>.fromOpaque(raw).takeUnretainedValue()
        return tally.openCounts > 0 ? tally : nil
    }

    /// The calling thread's tally, made on first use.
    private static func threadTally() -> GEMMTally {
        if let raw = pthread_getspecific(tallyKey) { return Unmanaged<GEMMTally>.fromOpaque(raw).takeUnretainedValue() }
        let tally = GEMMTally()
        pthread_setspecific(tallyKey, Unmanaged.passRetained(tally).toOpaque())
        return tally
    }

    /// Counts the GEMM work that `body` does on the calling thread, by phase.
    ///
    /// The count is apart from the thread's profile: it neither starts, stops
    /// nor clears it, and a profile that records (``start()`` or `MIXMAE_PROFILE`)
    /// goes on recording `body`'s ops as usual. Counts can nest; work on other
    /// threads is not counted.
    ///
    /// ```swift
    /// let work = Profiler.gemmWork { let loss = model(x).mean(); loss.backward() }
    /// print(work.forward / 1e9, "GFLOP forward,", work.backward / 1e9, "backward")
    /// ```
    public static func gemmWork(of body: () throws -> Void) rethrows -> GEMMWork {
        let tally = threadTally()
        let before = tally.work
        tally.openCounts += 1
        defer { tally.openCounts -= 1 }
        try body()
        return tally.work.since(before)
    }

    /// A key for a per-thread object: the key retains it, and releases it when its thread ends.
    private static func makeThreadKey() -> pthread_key_t {
        var key = pthread_key_t()
        pthread_key_create(&key) { raw in
            if let raw { Unmanaged<AnyObject>.fromOpaque(raw).release() }
        }
        return key
    }

    /// The calling thread's session (retained by the key; released when the thread ends).
    private static let sessionKey: pthread_key_t = makeThreadKey()

    private static let environmentMode: Bool = {
        let value = ProcessInfo.processInfo.environment["MIXMAE_PROFILE"] ?? ""
        return !value.isEmpty && value != "0"
    }()

    /// Whether the environment switch has given its session to a thread yet.
    private static let environmentSessionClaimed = Mutex(false)

    /// The calling thread's session, if it has one.
    private static var threadSession: Session? {
        guard let raw = pthread_getspecific(sessionKey) else { return nil }
        return Unmanaged<Session>.fromOpaque(raw).takeUnretainedValue()
    }

    private static func install(_ session: Session) {
        if let old = pthread_getspecific(sessionKey) { Unmanaged<Session>.fromOpaque(old).release() }
        pthread_setspecific(sessionKey, Unmanaged.passRetained(session).toOpaque())
    }

    /// The calling thread's session while it records; with the environment
    /// switch, the first thread to ask gets one.
    @inline(__always)
    private static func recordingSession() -> Session? {
        if let raw = pthread_getspecific(sessionKey) {
            let session = Unmanaged<Session>.fromOpaque(raw).takeUnretainedValue()
            return session.isActive ? session : nil
        }
        return environmentMode ? claimEnvironmentSession() : nil
    }

    private static func claimEnvironmentSession() -> Session? {
        let claimed = environmentSessionClaimed.withLock { claimed in
            defer { claimed = true }
            return claimed
        }
        guard !claimed else { return nil }
        let session = Session(warmUp: true)
        install(session)
        environmentReport = session
        atexit {
            if let session = Profiler.environmentReport {
                FileHandle.standardError.write(Data((Profiler.report(of: session) + "\n").utf8))
            }
        }
        return session
    }

    /// The environment switch's session, printed at exit (written once, before `atexit` is armed).
    nonisolated(unsafe) private static var environmentReport: Session?

    /// True while the calling thread records. The environment switch turns it on at the first op.
    public static var isActive: Bool { recordingSession() != nil }

    /// Starts (or restarts) recording on the calling thread, clearing its earlier rows.
    public static func start() {
        // With the environment switch, the first thread to start takes its session (printed at exit).
        if threadSession == nil && environmentMode { _ = claimEnvironmentSession() }
        guard let session = threadSession else { return install(Session(warmUp: false)) }
        session.restart(warmUp: false)
        session.isActive = true
    }

    /// Stops recording on the calling thread; its rows stay until the next ``start()`` or ``reset()``.
    public static func stop() {
        guard let session = threadSession, session.isActive else { return }
        mk_pool_set_timing(0)
        session.stopNanos = now()
        session.isActive = false
    }

    /// Clears the calling thread's rows and restarts its clock, keeping whether it records.
    public static func reset() {
        guard let session = threadSession else { return }
        let active = session.isActive
        session.restart(warmUp: false)
        if !active { session.stopNanos = session.startNanos }
    }

    @inline(__always) static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Runs `body`, adding its wall time to the row `(op, phase)` of the calling
    /// thread's profile when it records and no other measured op encloses this
    /// one. Plugins can use it for their own work.
    ///
    /// ```swift
    /// let sorted = Profiler.measure("swin.sort_windows") { AttentionSpans.sortingWindows(groups: ids, tokens: 49) }
    /// ```
    @inline(__always)
    public static func measure<R>(_ op: String, _ phase: Phase = .forward, _ body: () throws -> R) rethrows -> R {
        guard let tally = countingTally() else { return try profiled(op, phase, body) }
        return try tally.measure(phase) { try profiled(op, phase, body) }
    }

    /// ``measure(_:_:_:)`` for the thread's profile alone.
    @inline(__always)
    private static func profiled<R>(_ op: String, _ phase: Phase, _ body: () throws -> R) rethrows -> R {
        guard let session = recordingSession() else { return try body() }
        return try session.measure(op, phase, body)
    }

    /// Counts `2 * m * n * k * batch` GEMM operations for the op being measured.
    @inline(__always)
    static func countGEMM(m: Int, n: Int, k: Int, batch: Int = 1) {
        let flops = 2 * Double(m) * Double(n) * Double(k) * Double(batch)
        countingTally()?.add(flops)
        guard let session = recordingSession() else { return }
        session.pendingFlops += flops
    }

    /// Runs `body`, a GEMM call (or calls run at the same time) of `work` multiply-adds, adding its wall time to
    /// the row of `shape` in the GEMM-shape table of the calling thread's profile when it records. The table
    /// shows which shapes take the time, and how far each shape's mean is from its median and fastest call.
    /// MixKit's own products call it; a plugin whose kernel runs a product of its own can too, to see it there.
    /// Wrap only work MixKit does not measure itself (a MixKit matmul inside would be listed twice), and note that
    /// the op table's GFLOP column counts MixKit's products only: the plugin's product adds time to its op's row,
    /// not work.
    ///
    /// ```swift
    /// Profiler.measureGEMM("\(m)x\(n)x\(k) (my kernel)", work: m * n * k) {
    ///     myKernel(a, b, c, m, n, k)
    /// }
    /// ```
    @inline(__always)
    public static func measureGEMM(_ shape: @autoclosure () -> String, work: Int, _ body: () -> Void) {
        guard let session = recordingSession() else { return body() }
        mk_pool_set_timing(1)
        let before = PoolTime.now
        let t0 = now()
        body()
        let seconds = Double(now() - t0) * 1e-9
        let pool = PoolTime.now - before
        let flops = 2 * Double(work)
        let key = shape()
        var row = session.shapes[key] ?? GEMMShapeRow()
        row.add(seconds: seconds, flops: flops)
        row.busyThreadSeconds += max(0, seconds - pool.regionSeconds) + pool.partSeconds
        row.threadSeconds += seconds * Double(Parallel.threadCount)
        session.shapes[key] = row
    }

    /// The thread pool's running totals (`mk_pool_timed`): wall time in its regions, and time in their parts.
    private struct PoolTime {
        var regionSeconds: Double
        var partSeconds: Double

        static var now: PoolTime {
            var (regions, parts): (Int64, Int64) = (0, 0)
            mk_pool_timed(&regions, &parts)
            return PoolTime(regionSeconds: Double(regions) * 1e-9, partSeconds: Double(parts) * 1e-9)
        }

        static func - (a: PoolTime, b: PoolTime) -> PoolTime {
            PoolTime(regionSeconds: a.regionSeconds - b.regionSeconds, partSeconds: a.partSeconds - b.partSeconds)
        }
    }

    /// Called at the end of every backward pass.
    static func backwardFinished() {
        guard let session = recordingSession() else { return }
        session.backwardPasses += 1
        session.lastBackwardNanos = now()
    }

    /// Called at the end of every optimizer update; ends the warm-up step of the environment switch.
    static func optimizerStepFinished() {
        guard let session = recordingSession() else { return }
        if session.warmUpPending {
            session.restart(warmUp: false)
            return
        }
        session.optimizerSteps += 1
        session.lastOptimizerStepNanos = now()
    }

    /// Marks the end of a step without backward pass or optimizer update (an
    /// inference step), so that a forward-only profile reports per step too.
    /// Steps with a backward pass count by themselves; this mark is then ignored.
    ///
    /// ```swift
    /// Profiler.start()
    /// for _ in 0..<5 { _ = withNoGrad { model(images) }; Profiler.stepFinished() }
    /// print(Profiler.report())   // per step: the mean of the five
    /// ```
    public static func stepFinished() {
        guard let session = recordingSession() else { return }
        session.markedSteps += 1
        session.lastMarkedStepNanos = now()
    }

    /// The calling thread's rows so far, largest time first. The wall time ends
    /// at the end of the last step (optimizer update, else backward pass, else
    /// ``stepFinished()`` mark), so that work after the steps does not count;
    /// without steps, at ``stop()`` or now. Empty when the thread never recorded.
    public static func summary() -> Summary {
        threadSession?.summary() ?? Summary(entries: [], wallSeconds: 0, steps: 0)
    }

    /// The profile as a table: per step, each op's time, its share of the step,
    /// its calls and, for GEMM-backed ops, GFLOP and GFLOP/s.
    public static func report() -> String {
        threadSession.map { report(of: $0) } ?? report(summary())
    }

    /// A session's op table followed by its GEMM-shape table.
    private static func report(of session: Session) -> String {
        let summary = session.summary()
        return report(summary) + gemmShapeReport(session.shapes, steps: summary.steps)
    }

    /// How many shapes the GEMM-shape table lists (the ones taking the most time).
    static let reportedGEMMShapes = 15

    /// The GEMM calls by shape, most time first: per step, calls and time; GFLOP/s of all calls, of the median
    /// call and of the fastest; the share of the compute threads' time the calls kept busy (the rest: a thread
    /// waiting for another to finish its share, or to start). Empty without GEMM calls.
    static func gemmShapeReport(_ shapes: [String: GEMMShapeRow], steps: Int) -> String {
        guard !shapes.isEmpty else { return "" }
        let perStep = Double(max(steps, 1))
        let header = [
            "GEMM shape (M x N x K; ‖ runs at the same time)", "calls/step", "ms/step", "GFLOP/s", "median",
            "fastest", "threads busy",
        ]
        let rows = shapes.sorted { $0.value.seconds > $1.value.seconds }.prefix(reportedGEMMShapes).map { shape, row in
            let callGFLOP = row.flops / Double(row.calls) * 1e-9
            return [
                shape, String(format: "%.1f", Double(row.calls) / perStep),
                String(format: "%.2f", row.seconds / perStep * 1e3),
                String(format: "%.1f", row.flops * 1e-9 / max(row.seconds, 1e-12)),
                String(format: "%.1f", callGFLOP / max(row.medianSeconds, 1e-12)),
                String(format: "%.1f", callGFLOP / max(row.fastestSeconds, 1e-12)),
                String(format: "%.1f%%", row.busyShare * 100),
            ]
        }
        let hidden = shapes.count - reportedGEMMShapes
        let more = hidden > 0 ? "\n(\(hidden) more shapes, less time each)" : ""
        return "\n" + aligned(header, rows, leftColumns: 1).joined(separator: "\n") + more
    }

    /// `header` and `rows` as lines of columns two spaces apart, the first `leftColumns` padded on the right and
    /// the others on the left.
    private static func aligned(_ header: [String], _ rows: [[String]], leftColumns: Int) -> [String] {
        let widths = (0..<header.count).map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }
        return ([header] + rows).map { cells in
            cells.enumerated().map { c, cell in
                c < leftColumns
                    ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ")
        }
    }

    private static func report(_ s: Summary) -> String {
        let steps = Double(max(s.steps, 1))
        let wall = max(s.wallSeconds, 1e-12)
        var lines: [String] = []
        lines.append(
            String(
                format: "MixKit profile: %d step(s), %.3f s wall, %.1f ms per step, %d threads", s.steps, s.wallSeconds,
                s.wallSeconds / steps * 1e3, Parallel.threadCount))
        let header = ["op", "phase", "calls/step", "ms/step", "% step", "GFLOP/step", "GFLOP/s"]
        var table: [[String]] = []
        var gemmFlops = 0.0
        var gemmSeconds = 0.0
        for e in s.entries {
            let gflop = e.flops * 1e-9
            if e.flops > 0 {
                gemmFlops += e.flops
                gemmSeconds += e.seconds
            }
            table.append([
                e.op, e.phase.rawValue, String(format: "%.1f", Double(e.calls) / steps),
                String(format: "%.2f", e.seconds / steps * 1e3), String(format: "%.1f", e.seconds / wall * 100),
                e.flops > 0 ? String(format: "%.3f", gflop / steps) : "",
                e.flops > 0 ? String(format: "%.1f", gflop / e.seconds) : "",
            ])
        }
        table.append([
            "(outside any op)", "", "", String(format: "%.2f", s.unattributedSeconds / steps * 1e3),
            String(format: "%.1f", s.unattributedSeconds / wall * 100), "", "",
        ])
        lines += aligned(header, table, leftColumns: 2)
        if gemmFlops > 0 {
            lines.append(
                String(
                    format:
                        "GEMM ops: %.2f GFLOP per step in %.1f ms (%.1f GFLOP/s, %.1f%% of the step); whole step %.1f GFLOP/s",
                    gemmFlops * 1e-9 / steps, gemmSeconds / steps * 1e3, gemmFlops * 1e-9 / max(gemmSeconds, 1e-12),
                    gemmSeconds / wall * 100, gemmFlops * 1e-9 / wall))
        }
        return lines.joined(separator: "\n")
    }
}
