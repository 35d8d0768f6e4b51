import Foundation
import MixKit

/// Runs a run's start-up compute count without taking `MIXMAE_PROFILE=1`'s table from the training steps.
///
/// With the environment switch, the profiler prints the table of the first thread that runs an op,
/// and discards that thread's first step as a warm-up. ``ComputeCount/counting(_:)`` starts and stops
/// the calling thread's profile, so counting on the training thread would restart that table for the
/// count and leave it stopped: the table at exit would show the count's single pass and 0 training
/// steps, whatever the task. So the training thread claims the table first (``Profiler/isActive``
/// claims it with its warm-up still pending), and the count runs on a helper thread, whose profile is
/// its own. Without the switch, the count runs on the calling thread as before.
///
/// ```swift
/// let count = try ProfileSafeCount.run { try ComputeCount.trainingStep(of: task, on: batch) }
/// ```
enum ProfileSafeCount {
    /// Whether `MIXMAE_PROFILE` asks for the table (the profiler's own rule: set, and not `0`).
    static var isProfiling: Bool {
        let value = ProcessInfo.processInfo.environment["MIXMAE_PROFILE"] ?? ""
        return !value.isEmpty && value != "0"
    }

    static func run<R>(_ body: () throws -> R) throws -> R {
        guard isProfiling else { return try body() }
        _ = Profiler.isActive
        return try withoutActuallyEscaping(body) { body in
            let work = HelperThreadWork(body)
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                work.run()
                done.signal()
            }
            // The count runs a whole training step: give it the main thread's stack size.
            thread.stackSize = 8 << 20
            thread.start()
            done.wait()
            return try work.result!.get()
        }
    }

    /// The body and its result, handed to the helper thread and back. The calling thread waits
    /// for the helper, so the two never touch them at the same time. The body is released as
    /// soon as it has run (before the helper signals), as `withoutActuallyEscaping` requires.
    private final class HelperThreadWork<R>: @unchecked Sendable {
        private var body: (() throws -> R)?
        var result: Result<R, Error>?

        init(_ body: @escaping () throws -> R) { self.body = body }

        func run() {
            result = Result { try body!() }
            body = nil
        }
    }
}
