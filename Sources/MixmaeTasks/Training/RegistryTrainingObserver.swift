import Foundation
import MixmaeRuns

/// Connects a ``TrainingLoop`` to the run registry: metrics, checkpoints and heartbeats go
/// to an ``ActiveRun``.
///
/// A registry write that fails never stops training: the failure is printed once as a
/// warning and kept in ``failures``. The loop holds its observer weakly, so keep this
/// object alive for the whole run.
///
/// ```swift
/// let run = try registry.beginRun(task: "pretrain", recipe: snapshot, seed: seed, plugins: plugins)
/// let observer = RegistryTrainingObserver(run: run)
/// let loop = TrainingLoop(task: task, data: data, settings: settings,
///                         checkpointDirectory: run.outputDirectory.path)
/// loop.observer = observer
/// try ShutdownRequest.install()
/// loop.shouldStop = { _ in ShutdownRequest.isRequested }
/// do {
///     _ = try loop.run()
///     try run.finish(.finished)
/// } catch TrainingStop.interrupted {
///     try run.finish(.killed(signal: ShutdownRequest.signal ?? SIGINT))
/// } catch {
///     try? run.finish(.failed("\(error)"))
///     throw error
/// }
/// ```
public final class RegistryTrainingObserver: TrainingObserver {
    /// The run being recorded.
    public let run: ActiveRun
    /// Registry writes that failed, in order.
    public private(set) var failures: [String] = []

    public init(run: ActiveRun) {
        self.run = run
    }

    public func record(metrics: [String: Double], step: Int) {
        attempt("log metrics at step \(step)") { try run.log(step: Int64(step), metrics) }
    }

    public func checkpointWritten(path: String, role: String, epoch: Int, step: Int) {
        attempt("record checkpoint \(path)") {
            try run.recordProduced(
                fileAt: URL(fileURLWithPath: path), kind: .checkpoint, role: ArtifactRole(role), step: Int64(step))
        }
    }

    public func heartbeat() {
        attempt("write a heartbeat") { try run.heartbeat() }
    }

    private func attempt(_ what: String, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            if failures.isEmpty {
                FileHandle.standardError.write(
                    Data("warning: run \(run.id): could not \(what) in the registry: \(error)\n".utf8))
            }
            failures.append("\(what): \(error)")
        }
    }
}
