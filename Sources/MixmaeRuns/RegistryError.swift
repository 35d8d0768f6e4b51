import Foundation
import MixmaeSupport

/// What went wrong in the run registry, with what to do about it.
public enum RegistryError: UserFacingError {
    /// No run has this id.
    case runNotFound(RunID)
    /// A run has no checkpoint in the role asked for.
    case noCheckpoint(run: RunID, status: RunStatus, role: ArtifactRole, produced: [String])
    /// No artifact's hash starts with this prefix.
    case noArtifactWithPrefix(String)
    /// Several artifacts' hashes start with this prefix.
    case ambiguousPrefix(String, matches: [Artifact])
    /// A weights reference or lineage REF could not be understood.
    case badReference(String, reason: String)
    /// A file named by a reference does not exist.
    case fileNotFound(path: String, reference: String)
    /// A recorded artifact's file is not where it was recorded.
    case artifactMissing(artifact: Artifact, path: String)
    /// A file holds other bytes than the artifact recorded at that path.
    case artifactModified(
        path: String, expected: Artifact, actualSHA256: String, actualArtifact: Artifact?)
    /// A run to resume is still running.
    case runStillRunning(run: RunID, host: String, pid: Int32)
    /// A FINISHED run cannot be resumed.
    case cannotResumeFinished(RunID)
    /// This process no longer owns the run (it was resumed elsewhere or marked ended).
    case runNotOwned(run: RunID, attempt: Int, status: RunStatus, currentAttempt: Int)
    /// A date given on the command line could not be read.
    case badDate(String)

    public var what: String {
        switch self {
        case .runNotFound(let id):
            return "no run \(id) in the registry"
        case .noCheckpoint(let run, let status, let role, let produced):
            let what =
                produced.isEmpty ? "it produced no artifacts" : "it produced: " + produced.joined(separator: ", ")
            return "run \(run) (\(status)) recorded no \(role) checkpoint; \(what)"
        case .noArtifactWithPrefix(let prefix):
            return "no artifact's sha256 starts with '\(prefix)'"
        case .ambiguousPrefix(let prefix, let matches):
            return "sha256 prefix '\(prefix)' is ambiguous: \(matches.count) artifacts match"
        case .badReference(let text, let reason):
            return "cannot use '\(text)' as a reference: \(reason)"
        case .fileNotFound(let path, let reference):
            return "weights file \(path) (from '\(reference)') does not exist"
        case .artifactMissing(let artifact, let path):
            var text = "checkpoint \(artifact.shortHash) (\(artifact.kind)"
            if let run = artifact.producingRunID { text += ", produced by run \(run)" }
            return text + ") is missing: no file at \(path)"
        case .artifactModified(let path, let expected, let actual, let actualArtifact):
            var text =
                "\(path) changed since it was recorded: the registry has it as "
                + "sha256 \(expected.shortHash)"
            if let run = expected.producingRunID { text += " (produced by run \(run))" }
            text += " but the file now hashes to \(String(actual.prefix(12)))"
            if let other = actualArtifact {
                let producer = other.producingRunID.map { "produced by run \($0)" } ?? "external"
                text +=
                    ", which is another known artifact (\(other.kind), \(producer)); "
                    + "it was overwritten by a later file. Use sha256:\(other.shortHash) or "
                    + "run:ID to say which weights you mean"
            } else {
                text +=
                    ", which the registry has never seen: the file was modified outside "
                    + "mixmae (or corrupted). Restore it, or copy it to a new name to use it "
                    + "as a new external artifact"
            }
            return text
        case .runStillRunning(let run, let host, let pid):
            return "run \(run) is still running (pid \(pid) on \(host))"
        case .cannotResumeFinished(let run):
            return "run \(run) is FINISHED and cannot be resumed"
        case .runNotOwned(let run, let attempt, let status, let current):
            return "run \(run) attempt \(attempt) is no longer this process's: the run is "
                + "\(status) at attempt \(current) (resumed or ended elsewhere)"
        case .badDate(let text):
            return "cannot read '\(text)' as a date"
        }
    }

    public var hint: String? {
        switch self {
        case .runNotFound:
            return "`mixmae runs list` shows the runs (is MIXMAE_HOME pointing at the right registry?)"
        case .noArtifactWithPrefix:
            return "`mixmae runs show ID` lists a run's artifacts"
        case .ambiguousPrefix:
            return "give more digits:"
        case .artifactMissing(let artifact, _):
            if let removed = artifact.removedAt {
                return "`mixmae runs gc --delete` removed it on \(RegistryDates.display(removed))"
            }
            return "if you moved it, name the file by its new path: it is matched by content, so its lineage is kept"
        case .runStillRunning:
            return "stop it before resuming it"
        case .cannotResumeFinished(let run):
            return "start a new run from its weights with `run:\(run)` instead"
        case .badDate:
            return "use 2026-11-27, 2026-11-27T14:00:00Z, or an age such as 90m, 12h, 7d"
        default:
            return nil
        }
    }

    /// The artifacts an ambiguous prefix matches, one line each.
    public var details: [String] {
        guard case .ambiguousPrefix(_, let matches) = self else { return [] }
        return matches.map { artifact in
            let producer = artifact.producingRunID.map { "run \($0)" } ?? "external"
            return "  \(artifact.sha256)  \(artifact.kind)  \(producer)  \(artifact.path)"
        }
    }
}

/// How the registry prints and parses dates.
public enum RegistryDates {
    /// `2026-11-27 14:03:11` in local time, for tables and messages.
    public static func display(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    /// ISO 8601 in UTC (`2026-11-27T14:03:11Z`), for JSON.
    public static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Reads `2026-11-27` (local midnight), `2026-11-27 14:00`, an ISO 8601 time, or an age
    /// before `now`: `45s`, `90m`, `12h`, `7d`, `2w`.
    public static func parse(_ text: String, now: Date = Date()) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let unit = trimmed.last, let amount = Double(trimmed.dropLast()), amount >= 0 {
            let seconds: Double? = [
                "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800,
            ][String(unit)]
            if let seconds { return now.addingTimeInterval(-amount * seconds) }
        }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: trimmed) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        for format in ["yyyy-MM-dd", "yyyy-MM-dd HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return date }
        }
        throw RegistryError.badDate(text)
    }
}
