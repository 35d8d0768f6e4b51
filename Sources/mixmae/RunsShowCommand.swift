import ArgumentParser
import Foundation
import MixmaeRuns
import MixmaeSupport

/// `mixmae runs show RUN [--format table|json]`.
struct RunsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one run: recipe, plugins, metrics, artifacts, parents and children.",
        discussion: """
            Metrics show the last value and the best one: lowest for names with loss or error, \
            none for lr, highest otherwise (accuracy, mAP, mIoU).
            """
    )

    @OptionGroup var home: HomeOptions

    @Argument(help: ArgumentHelp("The run: 12, run:12 or run:12:best.", valueName: "run"))
    var reference: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let registry = try home.open()
        let details = try registry.details(ofRun: try RunReference(parsing: reference).runID)
        if output.json {
            try output.print(details)
        } else {
            print(RunDetailsText(details: details, registry: registry).render(), terminator: "")
        }
    }
}

/// The text form of `runs show`.
struct RunDetailsText {
    let details: RunDetails
    let registry: RunRegistry

    func render() -> String {
        let run = details.run
        var out: [String] = []
        out.append(
            "run \(run.id)  \(run.task)  \(RegistryText.status(run, heartbeatInterval: registry.options.heartbeatInterval))"
        )
        var facts = TextTable()
        facts.append(["started", RegistryDates.display(run.startedAt)])
        if let ended = run.endedAt {
            facts.append(["ended", RegistryDates.display(ended) + "  (" + RegistryText.runDuration(run) + ")"])
        } else {
            facts.append([
                "running for",
                RegistryText.runDuration(run) + "  (last heartbeat " + RegistryDates.display(run.heartbeatAt) + ")",
            ])
        }
        facts.append(["host", "\(run.host)  pid \(run.pid)"])
        facts.append(["attempts", String(run.attempt)])
        facts.append(["seed", run.seed.map(String.init) ?? "-"])
        facts.append(["recipe", "sha256 \(details.recipe.sha256)"])
        facts.append(["output", displayPath(details.outputDirectory)])
        if let error = run.error { facts.append(["error", error]) }
        for (key, value) in details.tags.sorted(by: { $0.key < $1.key }) {
            facts.append(["tag " + key, value])
        }
        out.append(indent(facts.rendered()))

        if details.attempts.count > 1 {
            out.append("\nattempts")
            var table = TextTable(["#", "STATUS", "STARTED", "ENDED", "HOST", "PID", "NOTE"], rightAligned: [0, 5])
            for attempt in details.attempts {
                table.append([
                    String(attempt.attempt), attempt.status.rawValue, RegistryDates.display(attempt.startedAt),
                    attempt.endedAt.map(RegistryDates.display) ?? "-", attempt.host, String(attempt.pid),
                    RegistryText.oneLine(attempt.error ?? "", limit: 60),
                ])
            }
            out.append(indent(table.rendered()))
        }

        out.append("\nplugins")
        if details.plugins.isEmpty {
            out.append("  (none recorded)")
        } else {
            var table = TextTable(["ID", "VERSION", "LIBRARY", "SHA256"])
            for plugin in details.plugins {
                table.append([
                    plugin.id, plugin.version, displayPath(plugin.libraryPath),
                    String(plugin.librarySHA256.prefix(12)),
                ])
            }
            out.append(indent(table.rendered()))
        }

        out.append("\nmetrics")
        if details.metrics.isEmpty {
            out.append("  (none logged)")
        } else {
            var table = TextTable(
                ["NAME", "LAST", "AT STEP", "BEST", "AT STEP", "VALUES"], rightAligned: [1, 2, 3, 4, 5])
            for metric in details.metrics {
                let best =
                    metric.best.map { RegistryText.value($0.value) + (metric.goal == .minimize ? " (min)" : " (max)") }
                    ?? "-"
                table.append([
                    metric.name, RegistryText.value(metric.last.value), String(metric.last.step), best,
                    metric.best.map { String($0.step) } ?? "-", String(metric.count),
                ])
            }
            out.append(indent(table.rendered()))
        }

        out.append("\nartifacts")
        if details.artifacts.isEmpty {
            out.append("  (none recorded)")
        } else {
            var table = TextTable(
                ["EVENT", "ROLE", "STEP", "SHA256", "KIND", "SIZE", "PATH", "FILE"], rightAligned: [2, 5])
            for item in details.artifacts {
                table.append([
                    item.event.direction.rawValue, item.event.role.rawValue, item.event.step.map(String.init) ?? "-",
                    item.artifact.shortHash, item.artifact.kind.rawValue, ByteCount.format(item.artifact.size),
                    displayPath(item.event.path), fileText(item),
                ])
            }
            out.append(indent(table.rendered()))
        }

        out.append("\nparents")
        out.append(links(details.parents, verb: "used"))
        out.append("\nchildren")
        out.append(links(details.children, verb: "used by"))

        out.append("\nrecipe (sha256 \(details.recipe.sha256.prefix(12)))")
        out.append(indent(details.recipe.text))
        return out.joined(separator: "\n") + "\n"
    }

    /// The artifact's file state; a file moved since the event names its new place.
    private func fileText(_ item: RecordedArtifact) -> String {
        if item.fileState == .moved {
            return "moved to " + displayPath(item.artifact.path)
        }
        return item.fileState.rawValue
    }

    private func links(_ links: [RunLink], verb: String) -> String {
        guard !links.isEmpty else { return "  (none)" }
        var table = TextTable(["RUN", "TASK", "STATUS", "HOW"], rightAligned: [0])
        for link in links {
            let how =
                link.relation == "rerun"
                ? (verb == "used" ? "this run re-runs it" : "re-runs this run")
                : "\(link.role?.rawValue ?? "") sha256:\(link.sha256?.prefix(12) ?? "")"
            table.append([String(link.runID), link.task, link.status.rawValue, how])
        }
        return indent(table.rendered())
    }

    /// `text` indented by two spaces, without a trailing newline.
    private func indent(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
    }
}
