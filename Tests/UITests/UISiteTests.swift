import Foundation
import MixmaeRuns
import MixmaeSupport
import MixmaeUI
import TestSupport
import Testing

/// The UI's pages, API and files, asked of ``UISite`` directly, on a registry with real rows.
@Suite struct UISiteTests {
    @Test func theAPIReturnsExactlyWhatTheCommandLinePrints() throws {
        let fixture = try UITestRegistry()
        let site = UISite(registry: try fixture.readOnly())
        let environment = ["MIXMAE_HOME": fixture.home.path]
        let pairs: [(path: String, query: String?, command: [String])] = [
            ("/api/runs", nil, ["runs", "list", "--format", "json"]),
            (
                "/api/runs", "task=classify&metrics=top1,loss",
                [
                    "runs", "list", "--task", "classify", "--metrics", "top1,loss", "--format", "json",
                ]
            ),
            (
                "/api/runs", "status=finished&since=7d",
                ["runs", "list", "--status", "finished", "--since", "7d", "--format", "json"]
            ),
            ("/api/runs/2", nil, ["runs", "show", "2", "--format", "json"]),
            ("/api/compare", "runs=2,3", ["runs", "compare", "2", "3", "--format", "json"]),
            ("/api/lineage", "ref=run:1&direction=down", ["lineage", "run:1", "--down", "--format", "json"]),
            ("/api/lineage", "ref=run:3", ["lineage", "run:3", "--up", "--format", "json"]),
            ("/api/lineage.dot", "ref=run:1&direction=down", ["lineage", "run:1", "--down", "--format", "dot"]),
        ]
        for pair in pairs {
            let answer = site.respond(method: "GET", path: pair.path, query: pair.query)
            #expect(answer.status == 200, "\(pair.path)?\(pair.query ?? ""): \(answer.text)")
            let printed = try runMixmae(pair.command, in: fixture.folder.path, environment: environment)
            #expect(printed.status == 0, "\(pair.command): \(printed.stderr)")
            #expect(answer.text == printed.stdout, "\(pair.path)?\(pair.query ?? "") differs from \(pair.command)")
        }
        // And the API parses as the documents the commands describe.
        let runs =
            try JSONSerialization.jsonObject(
                with: Data(site.respond(method: "GET", path: "/api/runs", query: "metrics=top1").body))
            as? [[String: Any]]
        #expect(runs?.map { $0["id"] as? Int } == [3, 2, 1])
        #expect((runs?.first?["metrics"] as? [String: Any])?["top1"] as? Double == 0.5)
    }

    @Test func badQueriesAreAnsweredWithWhatToDo() throws {
        let site = UISite(registry: try UITestRegistry().readOnly())
        let cases: [(String, String?, Int, String)] = [
            ("/api/runs", "status=sleeping", 400, "unknown status 'sleeping'"),
            ("/api/runs/99", nil, 404, "99"),
            ("/api/compare", "runs=1", 400, "two or more runs"),
            ("/api/lineage", "ref=/etc/passwd", 400, "file paths are not taken"),
            ("/api/lineage", "ref=run:1&direction=sideways", 400, "direction is up or down"),
            ("/api/nothing", nil, 404, "/api/runs"),
            ("/run/99", nil, 404, "no run 99"),
            ("/nowhere", nil, 404, "start at /runs"),
        ]
        for (path, query, status, text) in cases {
            let answer = site.respond(method: "GET", path: path, query: query)
            #expect(answer.status == status, "\(path)?\(query ?? ""): \(answer.status) \(answer.text)")
            #expect(answer.text.contains(text), "\(path)?\(query ?? ""): \(answer.text)")
        }
        #expect(site.respond(method: "POST", path: "/api/runs", query: nil).status == 405)
        #expect(site.respond(method: "GET", path: "/", query: nil).headers["Location"] == "/runs")
    }

    @Test func pagesShowTheRegistry() throws {
        let site = UISite(registry: try UITestRegistry().readOnly())
        let runs = site.respond(method: "GET", path: "/runs", query: nil)
        #expect(runs.status == 200)
        #expect(runs.text.contains("<option value=\"classify\">classify</option>"))
        #expect(runs.text.contains("<option value=\"top1\"></option>"))

        let run = site.respond(method: "GET", path: "/run/1", query: nil).text
        for section in [
            "id=\"summary\"", "id=\"metrics\"", "id=\"curves\"", "id=\"pictures\"", "id=\"lineage\"",
            "id=\"artifacts\"", "id=\"recipe\"", "/files/run/1/pictures/reconstruction-epoch-0002.png",
            "<a href=\"/run/2\" class=\"children-link\">run 2</a>", "base_lr: 0.0015",
        ] {
            #expect(run.contains(section), "run page lacks \(section)")
        }
        let charts = site.respond(method: "GET", path: "/run/2/charts", query: nil).text
        #expect(charts.hasPrefix("<svg") && charts.contains("top1"))

        let lineage = site.respond(method: "GET", path: "/lineage", query: "ref=run:2").text
        #expect(lineage.contains("data-node=\"run:1\"") && lineage.contains("data-node=\"run:2\""))
        #expect(lineage.contains("<a href=\"/run/1\">"))

        let compare = site.respond(method: "GET", path: "/compare", query: "runs=1,2,3").text
        #expect(compare.contains("<th>run 3</th>"))
        #expect(compare.contains("<span class=\"del\">-optim: {base_lr: 0.0015}</span>"))
        #expect(compare.contains("<span class=\"add\">+optim: {base_lr: 0.002}</span>"))
        #expect(compare.contains("run 2") && compare.contains("run 3") && compare.contains("<svg"))
    }

    /// `all=1` draws every node and arrow `mixmae lineage --format dot` lists, up and down.
    @Test func theLineageGraphHasTheContentOfTheDotOutput() throws {
        let fixture = try UITestRegistry()
        let site = UISite(registry: try fixture.readOnly())
        for ref in ["run:1", "run:2", "run:1:last"] {
            var dotNodes = Set<String>()
            for direction in ["up", "down"] {
                let dot = site.respond(
                    method: "GET", path: "/api/lineage.dot", query: "ref=\(ref)&direction=\(direction)"
                ).text
                for line in dot.split(separator: "\n") where line.contains(" [shape=") {
                    dotNodes.insert(String(line.split(separator: "\"")[1]))
                }
            }
            let page = site.respond(method: "GET", path: "/lineage", query: "ref=\(ref)&all=1").text
            let drawn = Set(
                page.components(separatedBy: "data-node=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) })
            #expect(drawn == dotNodes, "\(ref)")
        }
    }

    @Test func theRegistryIsOpenedReadOnlyAndNeverWritten() throws {
        let fixture = try UITestRegistry()
        let database = fixture.home.appendingPathComponent("registry.sqlite")
        // Settle the WAL into the main file so only a writer could change either.
        _ = try RunRegistry(home: fixture.home).database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        let before = try FileDigest.of(database).0
        let registry = try fixture.readOnly()
        let site = UISite(registry: registry)
        for path in ["/runs", "/run/1", "/run/2/charts", "/api/runs", "/api/runs/3"] {
            #expect(site.respond(method: "GET", path: path, query: nil).status == 200, "\(path)")
        }
        #expect(site.respond(method: "GET", path: "/lineage", query: "ref=run:1").status == 200)
        #expect(site.respond(method: "GET", path: "/compare", query: "runs=1,2").status == 200)
        #expect(try FileDigest.of(database).0 == before)
        #expect(thrownError { try registry.database.run("DELETE FROM runs") } != nil)
        #expect(try registry.runs().count == 3)

        let nowhere = fixture.folder.fileURL("no-registry-here")
        var options = RunRegistry.Options()
        options.readOnly = true
        let error = thrownError { _ = try RunRegistry(home: nowhere, options: options) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("there is no registry here"))
        #expect(!FileManager.default.fileExists(atPath: nowhere.path), "a read-only open created the folder")
    }
}
