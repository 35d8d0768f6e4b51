import ArgumentParser
import Foundation
import MixmaeRuns
import MixmaeSupport
import MixmaeTasks

/// `mixmae runs`: query the run registry.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, inspect, compare and clean up recorded runs.",
        subcommands: [
            RunsListCommand.self, RunsShowCommand.self, RunsCompareCommand.self, RunsGCCommand.self,
            RunsRecoverCommand.self,
        ],
        defaultSubcommand: RunsListCommand.self
    )
}

/// `mixmae runs list [--task T] [--status S] [--since DATE]`.
struct RunsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List runs, newest first.",
        discussion: """
            A RUNNING run whose process has vanished is shown as CRASHED (checked on every \
            registry access). --since takes 2026-11-27, "2026-11-27 14:00", an ISO 8601 time, \
            or an age: 90m, 12h, 7d, 2w.
            """
    )

    @OptionGroup var home: HomeOptions

    @Option(help: "Only runs of this task: \((TaskCatalog.standard.names + ["eval"]).joined(separator: ", ")).")
    var task: String?

    @Option(help: "Only runs with this status: running, finished, failed, killed, crashed.")
    var status: String?

    @Option(help: ArgumentHelp("Only runs started at or after this date or age.", valueName: "date"))
    var since: String?

    @OptionGroup var output: OutputOptions

    @Option(
        help: ArgumentHelp(
            "Add a column with the last value of each of these metrics (comma-separated, e.g. top1,AP,mIoU).",
            valueName: "names"))
    var metrics: String?

    func run() throws {
        var statusFilter: RunStatus?
        if let status {
            guard let parsed = RunStatus(parsing: status) else {
                throw ValidationError(
                    "unknown status '\(status)'; use one of "
                        + RunStatus.allCases.map { $0.rawValue.lowercased() }.joined(separator: ", "))
            }
            statusFilter = parsed
        }
        let sinceDate = try since.map { try RegistryDates.parse($0) }
        let registry = try home.open()
        let metricNames = (metrics ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        let listed = try registry.listedRuns(
            task: task, status: statusFilter, since: sinceDate, metrics: metrics.map { _ in metricNames })
        let runs = listed.map(\.run)
        if output.json { return try output.print(listed) }
        guard !runs.isEmpty else {
            print("no runs in \(registry.home.path)" + (task ?? status ?? since != nil ? " match the filters" : ""))
            return
        }
        var table = TextTable(
            ["ID", "TASK", "STATUS", "STARTED", "DURATION", "ATTEMPT", "SEED", "RECIPE", "HOST"] + metricNames + [
                "NOTE"
            ],
            rightAligned: Set([0, 5, 6]).union(9..<(9 + metricNames.count)))
        let now = Date()
        for item in listed {
            let run = item.run
            let status = RegistryText.status(run, heartbeatInterval: registry.options.heartbeatInterval, now: now)
            let note = RegistryText.oneLine(
                run.error ?? run.parentRunID.map { "rerun of run \($0)" } ?? "", limit: 60)
            var row: [String] = [
                String(run.id), run.task, status, RegistryDates.display(run.startedAt),
                RegistryText.runDuration(run, now: now), String(run.attempt), run.seed.map(String.init) ?? "-",
                String(run.recipeSHA256.prefix(12)), run.host,
            ]
            row += metricNames.map { name in (item.metrics?[name] ?? nil).map { String(format: "%.4f", $0) } ?? "-" }
            row.append(note)
            table.append(row)
        }
        print(table.rendered())
    }
}
