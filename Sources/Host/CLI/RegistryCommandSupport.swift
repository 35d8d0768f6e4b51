import ArgumentParser
import Foundation

/// How a registry command prints its answer.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
    case tree
    case dot

    /// Each command's help names the formats it prints, so the shared list stays out of it.
    static var allValueStrings: [String] { [] }

    /// Fails with a usage error unless the format is one of `allowed`.
    func require(_ allowed: [OutputFormat], command: String) throws {
        guard allowed.contains(self) else {
            throw ValidationError(
                "\(command) prints " + allowed.map(\.rawValue).joined(separator: ", ")
                    + "; not '\(rawValue)'")
        }
    }
}

/// `--home`: which registry to open (default: MIXMAE_HOME, else ./.mixmae).
struct RegistryLocation: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The registry folder (default: $MIXMAE_HOME, else ./.mixmae).", valueName: "dir"))
    var home: String?

    func open(options: RunRegistry.Options = RunRegistry.Options()) throws -> RunRegistry {
        let url = home.map {
            URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath, isDirectory: true)
        }
        return try RunRegistry(home: url, options: options)
    }
}

/// Formatting shared by the registry commands.
enum RegistryText {
    /// How long a run ran (or has been running).
    static func runDuration(_ run: RunRecord, now: Date = Date()) -> String {
        formatDuration((run.endedAt ?? now).timeIntervalSince(run.startedAt))
    }

    /// A metric value with 6 significant digits.
    static func value(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "nan" }
        return String(format: "%.6g", value)
    }

    /// A signed difference with 4 significant digits.
    static func delta(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value.isNaN { return "nan" }
        return String(format: "%+.4g", value)
    }

    /// `path` relative to the current directory when it is inside it.
    static func path(_ path: String) -> String {
        let base = FileManager.default.currentDirectoryPath + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    /// The first line of `text`, cut to `limit` characters.
    static func oneLine(_ text: String, limit: Int) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.count <= limit ? line : String(line.prefix(limit - 1)) + "…"
    }

    /// The status as a table shows it: RUNNING runs that have been quiet for a while say so.
    static func status(_ run: RunRecord, heartbeatInterval: TimeInterval, now: Date = Date()) -> String {
        let quiet = now.timeIntervalSince(run.heartbeatAt)
        if run.status == .running && quiet > max(120, 3 * heartbeatInterval) {
            return "RUNNING (quiet \(formatDuration(quiet)))"
        }
        return run.status.rawValue
    }
}
