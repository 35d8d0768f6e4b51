import Foundation
import MixKit
import Testing

@Suite struct ProfilerTests {
    @Test func countsOpsPhasesAndGEMMWork() {
        let x = randn([6, 5, 8], seed: 1)
        let w = randn([4, 8], seed: 2).asParameter()
        let b = randn([4], seed: 3).asParameter()
        let opt = AdamW(
            groups: [ParameterGroup(name: "all", parameters: [("w", w), ("b", b)], weightDecay: 0)],
            learningRate: 1e-3)
        Profiler.start()
        for _ in 0..<2 {
            let loss = linear(x, weight: w, bias: b).gelu().mean()
            loss.backward()
            opt.step()
            opt.zeroGrad()
        }
        Profiler.stop()
        let summary = Profiler.summary()
        func row(_ op: String, _ phase: Profiler.Phase) -> Profiler.Entry? {
            summary.entries.first { $0.op == op && $0.phase == phase }
        }
        #expect(summary.steps == 2)
        #expect(row("linear", .forward)?.calls == 2)
        // y = x Wᵀ: 2 * 30 * 4 * 8 operations per call.
        #expect((row("linear", .forward)?.flops ?? 0) == Double(2 * 2 * 30 * 4 * 8))
        // Backward: only d/dW (x is a constant), 2 * 4 * 8 * 30 per call.
        #expect((row("linear", .backward)?.flops ?? 0) == Double(2 * 2 * 4 * 8 * 30))
        #expect(row("gelu", .forward)?.calls == 2)
        #expect(row("gelu", .backward)?.calls == 2)
        // mean is one op: the sum and scale inside it are not rows of their own.
        #expect(row("mean", .forward)?.calls == 2)
        #expect(row("sum", .forward) == nil)
        #expect(row("adamw", .optimizer)?.calls == 2)
        let attributed = summary.entries.reduce(0) { $0 + $1.seconds }
        #expect(attributed <= summary.wallSeconds)
        let report = Profiler.report()
        #expect(report.contains("linear"))
        #expect(report.contains("GFLOP/s"))
        // Stopped: nothing more is recorded.
        _ = linear(x, weight: w, bias: b)
        #expect(Profiler.summary().entries.first { $0.op == "linear" && $0.phase == .forward }?.calls == 2)
    }

    /// The report lists GEMM calls by shape: a linear layer's forward product, and its input and weight gradients
    /// run at the same time (joined by ‖), each with its calls per step; a stopped profile adds no more.
    @Test func reportsGEMMCallsByShape() throws {
        let x = randn([300, 64], seed: 31)
        x.requiresGrad = true
        let w = randn([70, 64], seed: 32).asParameter()
        Profiler.start()
        for _ in 0..<2 {
            linear(x, weight: w, bias: nil).sum().backward()
            Profiler.stepFinished()
        }
        Profiler.stop()
        let report = Profiler.report()
        let table = report.split(separator: "\n").drop { !$0.hasPrefix("GEMM shape") }
        try #require(!table.isEmpty, "no GEMM-shape table in:\n\(report)")
        func row(_ shape: String) -> [Substring]? {
            table.first { $0.hasPrefix(shape + " ") }?.split(separator: " ", omittingEmptySubsequences: true)
        }
        // Forward: y = x Wᵀ, 300 x 70 x 64; backward: dx = dy W (300 x 64 x 70) ‖ dW = dyᵀ x (70 x 64 x 300).
        let forward = try #require(row("300x70x64 Bᵀ"), "\(report)")
        #expect(forward[2] == "1.0", "calls per step: \(forward)")
        let backward = try #require(row("300x64x70 ‖ 70x64x300 Aᵀ"), "\(report)")
        #expect(backward[4] == "1.0", "calls per step: \(backward)")
        #expect(Double(forward[forward.count - 2]).map { $0 > 0 } == true, "fastest GFLOP/s: \(forward)")
        for row in [forward, backward] {
            let busy = try #require(Double(row.last!.dropLast()), "threads busy: \(row)")
            #expect(row.last!.hasSuffix("%") && busy > 0 && busy <= 100, "threads busy: \(row)")
        }
        _ = linear(x, weight: w, bias: nil)
        #expect(Profiler.report() == report)
    }

    /// The GEMM table's last column is the share of the compute threads' time the calls kept busy: a product too
    /// small to share runs on the calling thread alone, one thread of ``Parallel/threadCount`` busy; one cut over the
    /// threads keeps some share busy, never more than all. (How much depends on the machine's load: the suite's
    /// other tests run at the same time, and a compute thread they take the core from is not busy.)
    @Test func reportsTheShareOfTheThreadsEachShapeKeptBusy() throws {
        let small = (randn([8, 16], seed: 41), randn([16, 8], seed: 42))
        let large = (randn([768, 256], seed: 43), randn([256, 512], seed: 44))
        Profiler.start()
        for _ in 0..<2 {
            _ = matmul(small.0, small.1)
            _ = matmul(large.0, large.1)
            Profiler.stepFinished()
        }
        Profiler.stop()
        let report = Profiler.report()
        let table = report.split(separator: "\n").drop { !$0.hasPrefix("GEMM shape") }
        func busy(_ shape: String) throws -> Double {
            let row = try #require(
                table.first { $0.hasPrefix(shape + " ") }?.split(separator: " ", omittingEmptySubsequences: true),
                "\(report)")
            return try #require(Double(row.last!.dropLast()), "threads busy: \(row)")
        }
        let one = 100 / Double(Parallel.threadCount)
        #expect(abs(try busy("8x8x16") - one) < 0.051, "\(report)")
        let shared = try busy("768x512x256")
        #expect(shared > 0 && shared <= 100, "\(report)")
    }

    /// The GEMM table's median column is the rate of the median call: with three calls of about 2 ms and one of
    /// 60 ms, the median call runs several times the rate of all four together (the mean), and no faster than the
    /// fastest; the kept times stay bounded however many calls a shape gets.
    @Test func reportsEachShapesMedianCall() throws {
        let work = 1_000_000
        Profiler.start()
        for milliseconds in [2, 60, 2, 2] {
            Profiler.measureGEMM("1000x1000x1 (sleeping)", work: work) { usleep(UInt32(milliseconds * 1000)) }
        }
        Profiler.stepFinished()
        Profiler.stop()
        let report = Profiler.report()
        let table = report.split(separator: "\n").drop { !$0.hasPrefix("GEMM shape") }
        let header = try #require(table.first, "no GEMM-shape table in:\n\(report)")
        #expect(header.contains("GFLOP/s  median  fastest"), "\(header)")
        let row = try #require(
            table.first { $0.hasPrefix("1000x1000x1 (sleeping) ") }?.split(
                separator: " ", omittingEmptySubsequences: true),
            "\(report)")
        let (mean, median, fastest) = try (
            #require(Double(row[row.count - 4])), #require(Double(row[row.count - 3])),
            #require(Double(row[row.count - 2]))
        )
        // 2e6 flops in ~2 ms: ~1 GFLOP/s for the median call (a sleep may overrun), 2e6 * 4 in ~66 ms for all.
        #expect(median > 3 * mean && median <= fastest && median > 0.1 && median <= 1.01, "\(row)")
    }

    /// A shape called more times than the median keeps still reports every call, and its median follows
    /// the latest calls: 1100 calls that do nothing after 1100 that sleep a millisecond.
    @Test func aShapesMedianFollowsItsLatestCalls() throws {
        Profiler.start()
        for milliseconds in [1, 0] {
            for _ in 0..<1100 {
                Profiler.measureGEMM("1000x1000x1 (latest)", work: 1_000_000) {
                    if milliseconds > 0 { usleep(UInt32(milliseconds * 1000)) }
                }
            }
        }
        Profiler.stepFinished()
        Profiler.stop()
        let report = Profiler.report()
        let row = try #require(
            report.split(separator: "\n").first { $0.hasPrefix("1000x1000x1 (latest) ") }?
                .split(separator: " ", omittingEmptySubsequences: true), "\(report)")
        #expect(row[row.count - 6] == "2200.0", "calls per step: \(row)")
        // The median is among the 1024 latest calls: all of them did nothing, far faster than a 1-ms call.
        let median = try #require(Double(row[row.count - 3]))
        #expect(median > 10 * 2e6 / 1e-3 / 1e9, "\(row)")
    }

    /// Forward-only steps count once marked, and a marked training step still counts once.
    @Test func inferenceStepsCountWhenMarked() {
        let x = randn([6, 5, 8], seed: 4)
        let w = randn([4, 8], seed: 5).asParameter()
        Profiler.start()
        for _ in 0..<3 {
            _ = withNoGrad { linear(x, weight: w, bias: nil).gelu() }
            Profiler.stepFinished()
        }
        Profiler.stop()
        let inference = Profiler.summary()
        #expect(inference.steps == 3)
        #expect(inference.entries.first { $0.op == "linear" }?.calls == 3)
        #expect(Profiler.report().contains("MixKit profile: 3 step(s)"), "\(Profiler.report())")
        Profiler.start()
        for _ in 0..<2 {
            linear(x, weight: w, bias: nil).mean().backward()
            Profiler.stepFinished()
        }
        Profiler.stop()
        #expect(Profiler.summary().steps == 2, "backward passes count; the marks do not add to them")
        Profiler.start()
        _ = linear(x, weight: w, bias: nil)
        Profiler.stop()
        #expect(Profiler.summary().steps == 0)
    }

    /// A profile is the calling thread's: steps and ops that other threads run at the
    /// same time (parallel tests, another model in the process) are not counted.
    @Test func countsOnlyTheCallingThread() {
        @Sendable func step(_ w: Tensor, _ opt: AdamW) {
            let loss = linear(randn([4, 8], seed: 5), weight: w, bias: nil).mean()
            loss.backward()
            opt.step()
            opt.zeroGrad()
        }
        @Sendable func makeOptimizer(_ w: Tensor) -> AdamW {
            AdamW(groups: [ParameterGroup(name: "w", parameters: [("w", w)], weightDecay: 0)], learningRate: 1e-3)
        }
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let other = Thread {
            let w = randn([3, 8], seed: 6).asParameter()
            let opt = makeOptimizer(w)
            started.signal()
            for _ in 0..<50 { step(w, opt) }
            finished.signal()
        }
        other.start()
        started.wait()
        let w = randn([3, 8], seed: 7).asParameter()
        let opt = makeOptimizer(w)
        Profiler.start()
        for _ in 0..<3 { step(w, opt) }
        Profiler.stop()
        finished.wait()
        let summary = Profiler.summary()
        #expect(summary.steps == 3)
        #expect(summary.entries.first { $0.op == "linear" && $0.phase == .forward }?.calls == 3)
        #expect(summary.entries.first { $0.op == "adamw" && $0.phase == .optimizer }?.calls == 3)
    }

    /// A GEMM count inside a recording profile (as `MIXMAE_PROFILE=1`'s, which a training
    /// run's start-up count runs inside) counts right and leaves the profile recording, with
    /// the rows it had: the count's ops are added to them as any other work of the thread.
    @Test func aGEMMCountLeavesTheThreadsProfileRecording() {
        let x = randn([6, 5, 8], seed: 1)
        let w = randn([4, 8], seed: 2).asParameter()
        let opt = AdamW(
            groups: [ParameterGroup(name: "w", parameters: [("w", w)], weightDecay: 0)], learningRate: 1e-3)
        func step() {
            linear(x, weight: w, bias: nil).gelu().mean().backward()
            opt.step()
            opt.zeroGrad()
        }
        func row(_ op: String, _ phase: Profiler.Phase) -> Profiler.Entry? {
            Profiler.summary().entries.first { $0.op == op && $0.phase == phase }
        }
        Profiler.start()
        defer { Profiler.stop() }
        step()
        let work = Profiler.gemmWork { linear(x, weight: w, bias: nil).mean().backward() }
        opt.zeroGrad()
        // y = x Wᵀ: 2 * 30 * 4 * 8 forward; backward only d/dW (x is a constant).
        #expect(work == Profiler.GEMMWork(forward: 2 * 30 * 4 * 8, backward: 2 * 4 * 8 * 30))
        #expect(Profiler.isActive)
        #expect(row("adamw", .optimizer)?.calls == 1, "the step before the count is still in the profile")
        #expect(row("gelu", .forward)?.calls == 1)
        #expect(row("linear", .forward)?.calls == 2)
        #expect(row("linear", .forward)?.flops == 2 * work.forward)
        step()
        #expect(Profiler.summary().steps == 2)
        #expect(row("adamw", .optimizer)?.calls == 2, "the profile still records after the count")
    }

    /// Counts nest (the outer one includes the inner one's work) and, without a profile,
    /// start none.
    @Test func gemmCountsNestAndStartNoProfile() {
        let a = randn([3, 4], seed: 3)
        let b = randn([4, 5], seed: 4)
        let profiling = Profiler.isActive
        var inner = Profiler.GEMMWork()
        let outer = Profiler.gemmWork {
            _ = matmul(a, b)
            inner = Profiler.gemmWork { _ = matmul(a, b) }
        }
        #expect(inner == Profiler.GEMMWork(forward: 2 * 3 * 4 * 5))
        #expect(outer == Profiler.GEMMWork(forward: 2 * 2 * 3 * 4 * 5))
        #expect(outer.total == outer[.forward])
        #expect(Profiler.gemmWork { _ = a + a }.total == 0)
        #expect(Profiler.isActive == profiling)
    }
}
