import CKernels
import Foundation
import MixKit
import Testing

/// MixKit's compute pool (`Parallel.forEachPart`, `mk_pool_run`): every part
/// runs exactly once, parts run on more than one thread at once, a region
/// started inside a part or from several threads at a time still runs every
/// part (serially), and workers that went to sleep are woken for new work.
@Suite struct ThreadPoolTests {
    /// A counter shared by threads.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var value: Int { lock.withLock { count } }
        func add() { lock.withLock { count += 1 } }
    }

    /// Runs `body` while `count` other threads spin on arithmetic (at the lowest scheduling priority,
    /// SCHED_IDLE, when `idle`), and returns once they have all stopped.
    static func withBusyThreads<T>(_ count: Int, idle: Bool = false, _ body: () -> T) -> T {
        let running = Counter()
        let stop = Counter()
        let finished = DispatchGroup()
        for _ in 0..<count {
            finished.enter()
            Thread.detachNewThread {
                if idle {
                    // SCHED_IDLE (5 on Linux; Glibc declares it only under _GNU_SOURCE): runnable, lowest priority.
                    var lowest = sched_param(sched_priority: 0)
                    pthread_setschedparam(pthread_self(), 5, &lowest)
                }
                running.add()
                var x = 0.0
                while stop.value == 0 { for i in 0..<10_000 { x += Double(i) } }
                withExtendedLifetime(x) {}
                finished.leave()
            }
        }
        while running.value < count { usleep(100) }
        let result = body()
        stop.add()
        finished.wait()
        return result
    }

    /// A counter per part, written only by the thread that runs that part.
    final class PartLog: @unchecked Sendable {
        var runs: [Int]
        var threads: [UInt]
        init(_ parts: Int) {
            runs = Array(repeating: 0, count: parts)
            threads = Array(repeating: 0, count: parts)
        }
        func record(_ part: Int) {
            runs[part] += 1
            threads[part] = UInt(pthread_self())
        }
    }

    @Test(arguments: [2, 3, 17, 1_000])
    func everyPartRunsExactlyOnce(_ parts: Int) {
        for _ in 0..<50 {
            let log = PartLog(parts)
            Parallel.forEachPart(parts) { log.record($0) }
            #expect(log.runs == Array(repeating: 1, count: parts))
        }
    }

    @Test func forRangesCoversTheRangeOnceInContiguousChunks() {
        let count = 100_003
        var hits = [Int](repeating: 0, count: count)
        hits.withUnsafeMutableBufferPointer { hits in
            Parallel.forRanges(count, work: count * 64) { lo, hi in
                for i in lo..<hi { hits[i] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    @Test(.enabled(if: Parallel.threadCount >= 2))
    func twoSlowPartsRunAtTheSameTimeOnTwoThreads() {
        // Once right after other work (the workers spin) and once after an idle pause long enough for them to
        // fall asleep (1 ms spin), so the futex wake-up is what brings a worker in. A region started while
        // another test's region holds the pool runs serially, so each case gets a few tries.
        for pause in [0, 20_000] {
            var overlapped = false
            var report = ""
            for _ in 0..<10 where !overlapped {
                usleep(UInt32(pause))
                let log = PartLog(2)
                let start = Date()
                Parallel.forEachPart(2) { part in
                    log.record(part)
                    usleep(60_000)
                }
                let seconds = Date().timeIntervalSince(start)
                #expect(log.runs == [1, 1])
                overlapped = log.threads[0] != log.threads[1] && seconds < 0.110
                report = "two 60 ms parts took \(seconds) s, threads \(log.threads)"
            }
            #expect(overlapped, "after a pause of \(pause) us: \(report)")
        }
    }

    /// The count the pool's contention check reads: it includes the reading thread, and busy threads show in
    /// it (a parser that read another field of /proc/loadavg, or none, would fail one of the two).
    @Test func runnableThreadsCountTheCallerAndBusyThreads() {
        #expect(mk_pool_runnable_threads() >= 1)
        let busy = 3
        let samples = Self.withBusyThreads(busy) {
            (0..<50).map { _ in
                usleep(1_000)
                return mk_pool_runnable_threads()
            }
        }
        #expect(samples.max()! >= busy + 1, "runnable threads next to \(busy) busy ones: \(samples)")
        #expect(samples.min()! >= 1)
    }

    /// The run-queue wait the preemption check reads (`mk_pool_run_queue_wait`, /proc/thread-self/schedstat):
    /// a thread that computes for 200 ms next to as many busy threads as there are cores waits for a share of
    /// that time, and its wait and its CPU time together never exceed the wall time (a parser that read the CPU
    /// time instead, the file's first field, would count more than the wall time in all).
    @Test(.enabled(if: mk_pool_run_queue_wait() >= 0))
    func runQueueWaitGrowsNextToBusyThreads() {
        func cpuMicroseconds() -> Int {
            var now = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
            return now.tv_sec * 1_000_000 + now.tv_nsec / 1_000
        }
        let (waited, computed, wall) = Self.withBusyThreads(ProcessInfo.processInfo.activeProcessorCount) {
            let (wait0, cpu0, start) = (mk_pool_run_queue_wait(), cpuMicroseconds(), Date())
            var x = 0.0
            while Date().timeIntervalSince(start) < 0.2 { for i in 0..<10_000 { x += Double(i) } }
            withExtendedLifetime(x) {}
            let wall = Int(Date().timeIntervalSince(start) * 1e6)
            return (mk_pool_run_queue_wait() - wait0, cpuMicroseconds() - cpu0, wall)
        }
        #expect(waited >= 20_000, "waited \(waited) us of \(wall) next to busy threads (computed \(computed))")
        #expect(waited + computed <= wall + wall / 10, "waited \(waited) and computed \(computed) us in \(wall)")
    }

    /// Threads that keep every core busy are runnable in /proc/loadavg: while they run, the pool must stop
    /// spinning within a few checks (5 ms apart), and regions must still run every part. The busy threads run
    /// at the lowest priority so that they slow the suites running beside this one as little as possible.
    @Test(.enabled(if: Parallel.spinMicroseconds > 0 && Parallel.threadCount >= 2))
    func busyThreadsElsewhereStopTheSpinning() {
        let busy = ProcessInfo.processInfo.activeProcessorCount
        var regions = 0
        let backedOff = Self.withBusyThreads(busy, idle: true) {
            let deadline = Date().addingTimeInterval(3)
            var backedOff = false
            while !backedOff && Date() < deadline {
                let log = PartLog(4)
                Parallel.forEachPart(4) { log.record($0) }
                #expect(log.runs == [1, 1, 1, 1])
                regions += 1
                usleep(1_000)
                backedOff = Parallel.isBackingOff
            }
            return backedOff
        }
        #expect(backedOff, "still spinning after \(regions) regions next to \(busy) busy threads")
    }

    /// The calling thread's region and part time (`mk_pool_set_timing`, `mk_pool_timed`): two parts that sleep
    /// 20 ms each count at least 40 ms of parts in a region of at least 20 ms; parts never count more than the
    /// region's wall time on each thread (a region inside a part counts only as that part's time); a region
    /// started with timing off adds nothing.
    @Test func timingCountsTheCallersRegionsAndTheirParts() {
        mk_pool_set_timing(1)
        defer { mk_pool_set_timing(0) }
        let flat = Self.timed { Parallel.forEachPart(2) { _ in usleep(20_000) } }
        #expect(flat.parts >= 40_000_000 && flat.region >= 20_000_000 && flat.region <= flat.wall, "\(flat)")
        #expect(flat.parts <= Int64(Parallel.threadCount) * flat.region, "\(flat)")
        let nested = Self.timed { Parallel.forEachPart(2) { _ in Parallel.forEachPart(2) { _ in usleep(10_000) } } }
        #expect(nested.parts >= 40_000_000 && nested.region <= nested.wall, "\(nested)")
        #expect(nested.parts <= Int64(Parallel.threadCount) * nested.region, "\(nested)")
        mk_pool_set_timing(0)
        let off = Self.timed { Parallel.forEachPart(2) { _ in usleep(1_000) } }
        #expect(off.region == 0 && off.parts == 0, "\(off)")
    }

    /// A region that finds the pool held by another thread's region runs serially on its caller; a region one of
    /// its parts starts after the pool is free again runs on the pool, and its parts on the other threads count
    /// too. Here another thread holds the pool for 15 ms: the outer region and its first inner one run serially
    /// (20 ms), the second inner one on two threads (10 ms), so 30 ms of wall time hold 40 ms of parts. Counted
    /// as the serial region's wall time alone, the parts came to 30 ms (it failed the test above in a full run
    /// of the suite, where other tests' regions held the pool).
    @Test(.enabled(if: Parallel.threadCount >= 2))
    func aSerialRegionCountsThePartsOtherThreadsRanForIt() {
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            // One part sleeps: the region holds the pool 15 ms whether one thread or two run its parts.
            Parallel.forEachPart(2) { part in
                guard part == 0 else { return }
                started.signal()
                usleep(15_000)
            }
            finished.signal()
        }.start()
        started.wait()
        mk_pool_set_timing(1)
        defer { mk_pool_set_timing(0) }
        let nested = Self.timed { Parallel.forEachPart(2) { _ in Parallel.forEachPart(2) { _ in usleep(10_000) } } }
        finished.wait()
        #expect(nested.parts >= 40_000_000 && nested.region <= nested.wall, "\(nested)")
        #expect(nested.parts <= Int64(Parallel.threadCount) * nested.region, "\(nested)")
    }

    /// `body`'s change of the calling thread's region and part totals, and its wall time, in nanoseconds.
    private static func timed(_ body: () -> Void) -> (region: Int64, parts: Int64, wall: Int64) {
        var (region0, parts0, region1, parts1): (Int64, Int64, Int64, Int64) = (0, 0, 0, 0)
        mk_pool_timed(&region0, &parts0)
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let wall = Int64(DispatchTime.now().uptimeNanoseconds - start)
        mk_pool_timed(&region1, &parts1)
        return (region1 - region0, parts1 - parts0, wall)
    }

    @Test func aRegionInsideAPartRunsAllItsPartsOnThatThread() {
        let outer = PartLog(4)
        let inner = (0..<4).map { _ in PartLog(8) }
        Parallel.forEachPart(4) { o in
            outer.record(o)
            Parallel.forEachPart(8) { i in inner[o].record(i) }
        }
        #expect(outer.runs == [1, 1, 1, 1])
        for o in 0..<4 {
            #expect(inner[o].runs == Array(repeating: 1, count: 8))
            #expect(Set(inner[o].threads) == [outer.threads[o]], "part \(o)'s inner region left its thread")
        }
    }

    @Test func regionsFromManyThreadsAtOnceAllComplete() {
        let callers = 8
        let logs = (0..<callers).map { _ in (0..<200).map { _ in PartLog(16) } }
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            for r in 0..<200 { Parallel.forEachPart(16) { logs[c][r].record($0) } }
        }
        for c in 0..<callers {
            for r in 0..<200 { #expect(logs[c][r].runs == Array(repeating: 1, count: 16), "caller \(c) region \(r)") }
        }
    }

    /// Counts the parts running at once.
    final class Concurrency: @unchecked Sendable {
        let lock = NSLock()
        var running = 0
        var most = 0
        func enter() {
            lock.lock()
            running += 1
            most = max(most, running)
            lock.unlock()
        }
        func leave() {
            lock.lock()
            running -= 1
            lock.unlock()
        }
    }

    @Test func aRegionNeverRunsOnMoreThreadsThanItAsksFor() {
        // A region for 4 threads first, so the pool has 3 workers; then regions for 2 must use one of them.
        for threads: Int32 in [4, 2, 1] {
            let concurrency = Concurrency()
            var body: (Int) -> Void = { _ in
                concurrency.enter()
                usleep(3_000)
                concurrency.leave()
            }
            withUnsafeMutablePointer(to: &body) { context in
                mk_pool_run(
                    8, threads,
                    { context, p in context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(p) }, context)
            }
            #expect(concurrency.most <= Int(threads), "\(concurrency.most) parts at once in a region for \(threads)")
        }
    }
}
