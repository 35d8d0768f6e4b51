import ArgumentParser
import Foundation
import MixmaeRuns
import MixmaeSupport

/// `mixmae runs gc [--delete]`.
struct RunsGCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract:
            "List (or with --delete remove) checkpoints of failed runs that nothing descends from, and leftovers of interrupted writes.",
        discussion: """
            A checkpoint is garbage when every run that produced it ended FAILED, KILLED or \
            CRASHED and no other run used it. An artifact with descendants is never deleted. \
            A file is deleted only if it still holds the recorded bytes; deleted artifacts stay \
            in the registry (marked deleted), so lineage keeps showing them.
            """
    )

    @OptionGroup var home: HomeOptions

    @Flag(help: "Delete the files instead of listing them.")
    var delete = false

    @OptionGroup var output: OutputOptions

    func run() throws {
        let registry = try home.open()
        if delete {
            let results = try registry.collectGarbage()
            let removed = try registry.removeLeftoverFiles()
            if !output.json {
                for path in removed { print("removed leftover \(displayPath(path))") }
            }
            if output.json {
                try output.print(results)
                return
            }
            guard !results.isEmpty else {
                print("nothing to delete")
                return
            }
            var table = TextTable(["RESULT", "SHA256", "SIZE", "PATH"], rightAligned: [2])
            var freed: Int64 = 0
            for result in results {
                if result.outcome == .deleted { freed += result.artifact.size }
                table.append([
                    result.outcome.rawValue, result.artifact.shortHash, ByteCount.format(result.artifact.size),
                    displayPath(result.path),
                ])
            }
            print(table.rendered() + "\nfreed \(ByteCount.format(freed))")
            return
        }
        let candidates = try registry.garbageCandidates()
        if output.json {
            try output.print(candidates)
            return
        }
        let leftovers = try registry.leftoverFiles()
        for path in leftovers { print("leftover of an interrupted write: \(displayPath(path))") }
        if !leftovers.isEmpty { print("`mixmae runs gc --delete` removes them") }
        guard !candidates.isEmpty else {
            print("no garbage: every checkpoint belongs to a successful or running run, or has descendants")
            return
        }
        var table = TextTable(["SHA256", "KIND", "SIZE", "RUNS", "ROLES", "PATH"], rightAligned: [2])
        var reclaimable: Int64 = 0
        for candidate in candidates {
            reclaimable += candidate.artifact.size * Int64(candidate.files.count)
            let runs = try candidate.producers.map { id in
                "\(id) \(try registry.run(id)?.status.rawValue ?? "?")"
            }
            let paths = candidate.files.map { displayPath($0.path) }
            table.append([
                candidate.artifact.shortHash, candidate.artifact.kind.rawValue,
                ByteCount.format(candidate.artifact.size),
                runs.joined(separator: ", "), candidate.roles.map(\.rawValue).joined(separator: ", "),
                paths.joined(separator: ", "),
            ])
        }
        print(
            table.rendered() + "\n"
                + "\(candidates.count) \(candidates.count == 1 ? "artifact" : "artifacts"), \(ByteCount.format(reclaimable)) on disk; "
                + "`mixmae runs gc --delete` removes them")
    }
}
