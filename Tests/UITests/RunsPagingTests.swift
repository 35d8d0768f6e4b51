import Foundation
import MixmaeRuns
import MixmaeUI
import TestSupport
import Testing

/// The runs table's pages: sorted and cut on the server, with the filters of `/api/runs`,
/// each entry exactly what `mixmae runs list --format json` prints for that run; and the run
/// page's wording of its lineage neighbours.
@Suite struct RunsPagingTests {
    struct Page: Decodable {
        var total: Int
        var page: Int
        var pageSize: Int
        var pages: Int
        var sort: String
        var dir: String
    }

    func page(_ site: UISite, _ query: String) throws -> (page: Page, ids: [Int], runs: [[String: Any]]) {
        let answer = site.respond(method: "GET", path: "/api/runs", query: query)
        #expect(answer.status == 200, "\(query): \(answer.text)")
        let body = Data(answer.body)
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any], "\(answer.text)")
        let runs = try #require(object["runs"] as? [[String: Any]])
        return (try JSONDecoder().decode(Page.self, from: body), runs.map { $0["id"] as! Int }, runs)
    }

    @Test func pagesAreSortedAndCutOnTheServerWithTheFilters() throws {
        let fixture = try UITestRegistry()
        let site = UISite(registry: try fixture.readOnly())
        let first = try page(site, "page_size=2")
        #expect(first.ids == [3, 2])
        #expect(first.page.total == 3 && first.page.pages == 2 && first.page.page == 1 && first.page.pageSize == 2)
        #expect(first.page.sort == "id" && first.page.dir == "desc")
        #expect(try page(site, "page_size=2&page=2").ids == [1])
        #expect(try page(site, "page_size=2&page=3").ids == [], "past the last page: empty, pages says 2")
        #expect(try page(site, "page_size=2&sort=id&dir=asc").ids == [1, 2])
        // By a metric: the last logged value; runs without it come last either way, ties by id.
        #expect(try page(site, "page_size=10&sort=metric:loss&dir=asc").ids == [1, 3, 2])
        #expect(try page(site, "page_size=10&sort=metric:top1&dir=desc").ids == [3, 2, 1])
        #expect(try page(site, "page_size=10&sort=metric:top1&dir=asc").ids == [2, 3, 1])
        #expect(try page(site, "page_size=10&sort=task&dir=asc").ids == [2, 3, 1])
        // Filters first, then the page.
        let classify = try page(site, "task=classify&page_size=1&page=2&sort=id&dir=desc")
        #expect(classify.ids == [2] && classify.page.total == 2 && classify.page.pages == 2)

        // Each entry is the CLI's entry for that run, metrics included.
        let printed = try runMixmae(
            ["runs", "list", "--metrics", "top1,loss", "--format", "json"], in: fixture.folder.path,
            environment: ["MIXMAE_HOME": fixture.home.path])
        let cli = try #require(try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [[String: Any]])
        let paged = try page(site, "metrics=top1,loss&page_size=2&sort=id&dir=asc")
        for run in paged.runs {
            let same = try #require(cli.first { ($0["id"] as? Int) == (run["id"] as? Int) })
            #expect(NSDictionary(dictionary: run).isEqual(to: same), "run \(run["id"] ?? "?")")
        }
        #expect(paged.runs.allSatisfy { $0["metrics"] != nil })

        for (query, message) in [
            ("page_size=0", "page_size must be a whole number in 1...1000"),
            ("page_size=x", "page_size must be"), ("page_size=5&page=0", "page must be a whole number from 1"),
            ("page_size=5&sort=colour", "cannot sort by 'colour'"), ("page_size=5&dir=up", "dir is asc or desc"),
        ] {
            let answer = site.respond(method: "GET", path: "/api/runs", query: query)
            #expect(answer.status == 400 && answer.text.contains(message), "\(query): \(answer.text)")
        }
        // Without page_size the answer is still exactly the CLI's list.
        #expect(site.respond(method: "GET", path: "/api/runs", query: "sort=task").text.hasPrefix("["))
    }

    @Test func lineageNeighboursReadAsSentences() throws {
        let site = UISite(registry: try UITestRegistry().readOnly())
        let pretrain = site.respond(method: "GET", path: "/run/1", query: nil).text
        #expect(pretrain.contains("finetuned by <a href=\"/run/2\" class=\"children-link\">run 2</a> classify"))
        #expect(pretrain.contains("(init.backbone, sha256:"))
        #expect(!pretrain.contains("used by as"))
        let finetune = site.respond(method: "GET", path: "/run/2", query: nil).text
        #expect(finetune.contains("finetuned from <a href=\"/run/1\" class=\"parents-link\">run 1</a> pretrain"))
    }
}
