import Foundation

/// Work to do once a run has ended and its outcome (FINISHED, FAILED or KILLED) is in the
/// registry: render its curves, write a summary, notify someone. A hook reads what it needs
/// from the registry, so it sees exactly what was recorded.
///
/// ```swift
/// struct Notify: RunEndHook {
///     func runDidEnd(_ run: RunRecord, registry: RunRegistry) throws -> String? {
///         "run \(run.id) ended \(run.status)"
///     }
/// }
/// session.endHooks.hooks.append(Notify())
/// ```
public protocol RunEndHook {
    /// Called after the run's outcome was recorded. Returns a line for the log, or nil.
    func runDidEnd(_ run: RunRecord, registry: RunRegistry) throws -> String?
}

/// Runs hooks after a run ended. A failing hook is reported as a warning and does not change
/// the run's outcome or stop the other hooks.
public struct RunEndHooks {
    public var hooks: [RunEndHook]

    public init(hooks: [RunEndHook]) {
        self.hooks = hooks
    }

    /// Runs every hook for run `id`, sending their lines and warnings to `log`.
    public func run(after id: RunID, registry: RunRegistry, log: (String) -> Void) {
        guard !hooks.isEmpty else { return }
        let record: RunRecord
        do {
            record = try registry.requireRun(id)
        } catch {
            log("warning: run \(id) ended but could not be read back from the registry: \(error)")
            return
        }
        for hook in hooks {
            do {
                if let line = try hook.runDidEnd(record, registry: registry) { log(line) }
            } catch {
                log("warning: run \(id): \(type(of: hook)) failed: \(error)")
            }
        }
    }
}
