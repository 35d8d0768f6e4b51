import Foundation
import MixmaeSupport

/// How runs print in tables and pages: durations, metric values, paths, statuses
/// (shared by the registry commands and the HTML report).
package enum RegistryText {
    /// How long a run ran (or has been running).
    package static func runDuration(_ run: RunRecord, now: Date = Date()) -> String {
        formatDuration((run.endedAt ?? now).timeIntervalSince(run.startedAt))
    }

    /// A metric value with 6 significant digits.
    package static func value(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "nan" }
        return String(format: "%.6g", value)
    }

    /// A signed difference with 4 significant digits.
    package static func delta(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "nan" }
        return String(format: "%+.4g", value)
    }

    /// The first line of `text`, cut to `limit` characters.
    package static func oneLine(_ text: String, limit: Int) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.count <= limit ? line : String(line.prefix(limit - 1)) + "…"
    }

    /// The status as a table shows it: RUNNING runs that have been quiet for a while say so.
    package static func status(_ run: RunRecord, heartbeatInterval: TimeInterval, now: Date = Date()) -> String {
        let quiet = now.timeIntervalSince(run.heartbeatAt)
        if run.status == .running && quiet > max(120, 3 * heartbeatInterval) {
            return "RUNNING (quiet \(formatDuration(quiet)))"
        }
        return run.status.rawValue
    }
}
