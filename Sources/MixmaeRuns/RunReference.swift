/// A run as a command line names it: `12`, `run:12`, or one of its checkpoints, `run:12:best`
/// or `run:12:last` (which name the run too). Every command that takes a run reads it so.
///
/// ```swift
/// let run = try RunReference(parsing: "run:12:best")
/// run.runID        // 12
/// run.checkpoint   // .best
/// ```
public struct RunReference: Equatable, CustomStringConvertible {
    public var runID: RunID
    /// The checkpoint the text names with the run, if it names one.
    public var checkpoint: WeightsReference.Checkpoint?

    public init(runID: RunID, checkpoint: WeightsReference.Checkpoint? = nil) {
        self.runID = runID
        self.checkpoint = checkpoint
    }

    /// Reads `12`, `run:12`, `run:12:best` or `run:12:last`; anything else is a
    /// ``RegistryError/badReference(_:reason:)`` that says how to write one.
    public init(parsing text: String) throws {
        if text.hasPrefix("run:"), case .run(let id, let choice) = try WeightsReference(parsing: text) {
            let parts = text.split(separator: ":")
            self.init(runID: id, checkpoint: parts.count == 3 ? choice : nil)
            return
        }
        guard let id = RunID(text), id > 0 else {
            throw RegistryError.badReference(
                text, reason: "it is not a run id; write 12, run:12 or run:12:best (`mixmae runs list` shows them)")
        }
        self.init(runID: id)
    }

    public var description: String {
        "run:\(runID)" + (checkpoint.map { ":\($0.rawValue)" } ?? "")
    }
}
