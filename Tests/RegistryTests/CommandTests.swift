import Foundation
import TestSupport
import Testing

/// The registry commands, run as a user runs them.
@Suite struct CommandTests {
    @Test func listShowCompareLineageAndGcOnASimulatedChain() throws {
        let directory = try TemporaryFolder("commands")
        let home = directory.url
        #expect(try mixmae(["debug", "simulate-run", "--task", "pretrain", "--steps", "20"], home: home).status == 0)
        #expect(
            try mixmae(
                ["debug", "simulate-run", "--task", "finetune-cls", "--initial-weights", "run:1", "--steps", "10"],
                home: home
            )
            .status == 0)
        let failing = try mixmae(
            [
                "debug", "simulate-run", "--task", "finetune-cls", "--initial-weights", "run:2:best", "--steps", "20",
                "--fail-at", "15",
            ], home: home)
        #expect(failing.status == 1)

        let list = try mixmae(["runs", "list"], home: home)
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("ID  TASK"))
        #expect(lines[1].contains("FAILED") && lines[1].contains("simulated failure at step 15"))
        let failedOnly = try mixmae(["runs", "list", "--status", "failed", "--format", "json"], home: home)
        let failedRuns = try JSONSerialization.jsonObject(with: Data(failedOnly.stdout.utf8)) as! [[String: Any]]
        #expect(failedRuns.map { $0["id"] as? Int } == [3])
        #expect(try mixmae(["runs", "list", "--status", "sleeping"], home: home).stderr.contains("unknown status"))

        let show = try mixmae(["runs", "show", "2"], home: home)
        #expect(show.status == 0)
        #expect(show.stdout.hasPrefix("run 2  finetune-cls  FINISHED"))
        #expect(show.stdout.contains("used      init.backbone"))
        #expect(show.stdout.contains("init: run:1"))
        #expect(show.stdout.contains("parents\n  RUN  TASK"))
        let notARun = try mixmae(["runs", "show", "0"], home: home)
        #expect(notARun.status == 1)
        #expect(
            notARun.stderr.hasPrefix("error: cannot use '0' as a reference: it is not a run id"), "\(notARun.stderr)")
        #expect(!notARun.stderr.contains("Usage:"))
        let showJSON =
            try JSONSerialization.jsonObject(
                with: Data(try mixmae(["runs", "show", "run:2", "--format", "json"], home: home).stdout.utf8))
            as! [String: Any]
        #expect((showJSON["parents"] as? [[String: Any]])?.first?["runID"] as? Int == 1)
        #expect((showJSON["children"] as? [[String: Any]])?.first?["runID"] as? Int == 3)

        let compare = try mixmae(["runs", "compare", "2", "3"], home: home)
        #expect(compare.status == 0)
        #expect(compare.stdout.contains("-init: run:1\n+init: run:2:best\n"))
        #expect(compare.stdout.contains("status *"))
        #expect(compare.stdout.contains("final metrics"))

        let up = try mixmae(["lineage", "3", "--up"], home: home)
        #expect(up.stdout.hasPrefix("run 3  finetune-cls  FAILED"))
        #expect(up.stdout.contains("produced as checkpoint.last, checkpoint.best by run 1  pretrain  FINISHED"))
        let down = try mixmae(["lineage", "1", "--down", "--format", "dot"], home: home)
        #expect(down.stdout.contains("-> \"run:3\" [label=\"init.backbone\"]"))
        let json = try mixmae(["lineage", "\(home.path)/runs/2/last.safetensors", "--format", "json"], home: home)
        let graph = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        #expect((graph["runs"] as? [[String: Any]])?.compactMap { $0["id"] as? Int }.sorted() == [1, 2])
        #expect(try mixmae(["lineage", "1", "--up", "--down"], home: home).status != 0)
        let table = try mixmae(["lineage", "1", "--format", "table"], home: home)
        #expect(table.status == 2 && table.stderr.contains("provide one of 'tree', 'dot' or 'json'"), "\(table.stderr)")

        // Run 3 failed after its step-10 checkpoint, and nothing used it: garbage.
        let gc = try mixmae(["runs", "gc", "--format", "json"], home: home)
        let candidates = try JSONSerialization.jsonObject(with: Data(gc.stdout.utf8)) as! [[String: Any]]
        #expect(candidates.count == 1)
        #expect(candidates.first?["producers"] as? [Int] == [3])
        let deleted = try mixmae(["runs", "gc", "--delete"], home: home)
        #expect(deleted.stdout.contains("deleted"))
        #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("runs/3/last.safetensors").path))
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("runs/2/last.safetensors").path))
    }
}
