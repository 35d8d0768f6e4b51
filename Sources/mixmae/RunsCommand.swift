import ArgumentParser
import Foundation
import MixmaeRuns
import MixmaeTasks

/// `mixmae runs`: query the run registry.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, inspect, compare and clean up recorded runs.",
        subcommands: [RunsListCommand.self, RunsShowCommand.self, RunsCompareCommand.self, RunsGCCommand.self],
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

    @OptionGroup var location: RegistryLocation

    @Option(help: "Only runs of this task: \((TaskCatalog.standard.names + ["eval"]).joined(separator: ", ")).")
    var task: String?

    @Option(help: "Only runs with this status: running, finished, failed, killed, crashed.")
    var status: String?

    @Option(help: ArgumentHelp("Only runs started at or after this date or age.", valueName: "date"))
    var since: String?

    @Option(help: "table or json.")
    var format: OutputFormat = .table

    @Option(
        help: ArgumentHelp(
            "Add a column with the last value of each of these metrics (comma-separated, e.g. top1,AP,mIoU).",
            valueName: "names"))
    var metrics: String?

    func run() throws {
        try format.require([.table, .json], command: "runs list")
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
        let registry = try location.open()
        let runs = try registry.runs(task: task, status: statusFilter, since: sinceDate)
        if format == .json {
            print(try RegistryJSON.encode(runs), terminator: "")
            return
        }
        guard !runs.isEmpty else {
            print("no runs in \(registry.home.path)" + (task ?? status ?? since != nil ? " match the filters" : ""))
            return
        }
        let metricNames = (metrics ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        var table = TextTable(
            ["ID", "TASK", "STATUS", "STARTED", "DURATION", "ATTEMPT", "SEED", "RECIPE", "HOST"] + metricNames + [
                "NOTE"
            ],
            rightAligned: Set([0, 5, 6]).union(9..<(9 + metricNames.count)))
        let now = Date()
        for run in runs {
            var values: [String] = []
            for name in metricNames {
                let last = try registry.metrics(ofRun: run.id, named: name).max { $0.step < $1.step }
                values.append(last.map { String(format: "%.4f", $0.value) } ?? "-")
            }
            let status = RegistryText.status(run, heartbeatInterval: registry.options.heartbeatInterval, now: now)
            let note = RegistryText.oneLine(
                run.error ?? run.parentRunID.map { "rerun of run \($0)" } ?? "", limit: 60)
            var row: [String] = [
                String(run.id), run.task, status, RegistryDates.display(run.startedAt),
                RegistryText.runDuration(run, now: now), String(run.attempt), run.seed.map(String.init) ?? "-",
                String(run.recipeSHA256.prefix(12)), run.host,
            ]
            row += values
            row.append(note)
            table.append(row)
        }
        print(table.rendered())
    }
}
