import Foundation
import MixmaeRuns
import MixmaeSupport

/// Writes the run's metric curves into `runs/<id>/curves/` (see ``RunCurves``).
public struct CurvesOnRunEnd: RunEndHook {
    public init() {}

    public func runDidEnd(_ run: RunRecord, registry: RunRegistry) throws -> String? {
        let files = try RunCurves(registry: registry, run: run.id).write()
        guard let first = files.first else { return nil }
        let folder = first.deletingLastPathComponent().path
        return "run \(run.id): \(files.count) curve\(files.count == 1 ? "" : "s") in \(folder)"
    }
}

extension RunEndHooks {
    /// The hooks every training and evaluation run of the command line gets: curves.
    public static let standard = RunEndHooks(hooks: [CurvesOnRunEnd()])
}

/// A report or chart could not be written or made.
public enum ReportError: UserFacingError {
    case cannotWrite(path: String, reason: String)

    public var what: String {
        switch self {
        case .cannotWrite(let path, let reason): return "cannot write \(path): \(reason)"
        }
    }

    public var hint: String? { "check that the folder exists and is writable, or pass --out" }
}
