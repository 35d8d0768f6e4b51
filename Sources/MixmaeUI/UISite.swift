import Foundation
import MixmaeReports
import MixmaeRuns
import MixmaeSupport

/// Every page, API answer and file of `mixmae ui`, by request path, over a registry opened
/// read-only. Independent of the HTTP server, so tests call it directly as well as over
/// HTTP.
///
/// Pages: `/runs`, `/run/<id>`, `/lineage?ref=REF`, `/compare?runs=1,2,...`, `/sweeps`,
/// `/sweep/<id>` (and the live fragments `/run/<id>/charts`, `/sweeps/table`, `/sweep/<id>/table`).
/// API (the bytes the CLI's `--format json` prints for the same query):
/// - `/api/runs?task=&status=&since=&metrics=a,b` = `mixmae runs list ... --format json`
/// - `/api/runs?...&page_size=50&page=1&sort=COLUMN&dir=asc|desc`: one page of those runs,
///   sorted on the server (``RunsPaging``), with the total count
/// - `/api/runs/<id>` = `mixmae runs show <id> --format json`
/// - `/api/compare?runs=A,B` = `mixmae runs compare A B --format json`
/// - `/api/sweeps/<id>?metrics=a,b` = `mixmae runs compare --sweep <id> [--metrics a,b] --format json`
/// - `/api/lineage?ref=REF&direction=up|down` = `mixmae lineage REF --up|--down --format json`
/// - `/api/lineage.dot?ref=REF&direction=up|down` = `... --format dot`
/// Files: `/files/run/<id>/pictures/<name>`, `/files/artifact/<sha256>` (``RunOutputFiles``).
///
/// ```swift
/// let site = UISite(registry: try RunRegistry(home: home, options: readOnly))
/// let answer = site.respond(method: "GET", path: "/api/runs", query: "task=classify")
/// ```
package final class UISite {
    package let registry: RunRegistry

    package init(registry: RunRegistry) {
        self.registry = registry
    }

    package func respond(method: String, path: String, query: String?) -> UIResponse {
        let isAPI = path.hasPrefix("/api/")
        do {
            guard method == "GET" || method == "HEAD" else {
                throw UIRequestError(status: 405, "the mixmae ui only reads: \(method) is not answered")
            }
            return try route(try UIPath.segments(path), UIQuery(query))
        } catch let error as UIRequestError {
            return failure(error.message, status: error.status, api: isAPI)
        } catch let error as UserFacingError {
            return failure(error.description, status: Self.status(of: error), api: isAPI)
        } catch {
            return failure("\(error)", status: 500, api: isAPI)
        }
    }

    private func route(_ segments: [String], _ query: UIQuery) throws -> UIResponse {
        switch segments.first {
        case nil: return .redirect(to: "/runs")
        case "runs" where segments.count == 1: return .html(try RunsPage(registry: registry).render())
        case "run" where segments.count == 2:
            return .html(try RunPage(registry: registry, run: try runID(segments[1])).render())
        case "run" where segments.count == 3 && segments[2] == "charts":
            return .html(try RunPage(registry: registry, run: try runID(segments[1])).charts())
        case "lineage" where segments.count == 1:
            guard let reference = query["ref"] else { return .html(try lineageChooser()) }
            return .html(try LineagePage(registry: registry).render(reference: reference, all: query["all"] == "1"))
        case "compare" where segments.count == 1:
            let runs = query.list("runs")
            guard !runs.isEmpty else { return .html(compareChooser()) }
            return .html(try ComparePage(registry: registry).render(runs: try ComparePage.runIDs(runs)))
        case "sweeps" where segments.count == 1: return .html(try SweepsPage(registry: registry).render())
        case "sweeps" where segments.count == 2 && segments[1] == "table":
            return .html(try SweepsPage(registry: registry).table())
        case "sweep" where segments.count == 2:
            return .html(try SweepPage(registry: registry, sweep: try sweepID(segments[1])).render())
        case "sweep" where segments.count == 3 && segments[2] == "table":
            return .html(try SweepPage(registry: registry, sweep: try sweepID(segments[1])).table())
        case "api": return try api(Array(segments.dropFirst()), query)
        case "files": return try file(Array(segments.dropFirst()))
        default: throw UIRequestError.notFound("no page at /\(segments.joined(separator: "/")); start at /runs")
        }
    }

    // MARK: API

    private func api(_ segments: [String], _ query: UIQuery) throws -> UIResponse {
        switch (segments.first, segments.count) {
        case ("runs", 1):
            var status: RunStatus?
            if let text = query["status"] {
                guard let parsed = RunStatus(parsing: text) else {
                    throw UIRequestError.badRequest(
                        "unknown status '\(text)'; use one of "
                            + RunStatus.allCases.map { $0.rawValue.lowercased() }.joined(separator: ", "))
                }
                status = parsed
            }
            let since = try query["since"].map { try RegistryDates.parse($0) }
            let metrics: [String]? = query.has("metrics") ? query.list("metrics") : nil
            if let paging = try RunsPaging(query) {
                let runs = try registry.runs(task: query["task"], status: status, since: since)
                return try .json(paging.page(of: runs, metrics: metrics, in: registry))
            }
            return try .json(
                registry.listedRuns(task: query["task"], status: status, since: since, metrics: metrics))
        case ("runs", 2):
            return try .json(registry.details(ofRun: try runID(segments[1])))
        case ("compare", 1):
            let ids = try ComparePage.runIDs(query.list("runs"))
            guard ids.count == 2 else {
                throw UIRequestError.badRequest(
                    "/api/compare takes exactly two runs, as `mixmae runs compare A B`; got \(ids.count)")
            }
            return try .json(registry.compare(ids[0], ids[1]))
        case ("sweeps", 2):
            let id = try sweepID(segments[1])
            let metrics: [String]? = query.has("metrics") ? query.list("metrics") : nil
            return try .json(SweepTable(registry: registry, sweep: id, metrics: metrics))
        case ("lineage", 1), ("lineage.dot", 1):
            guard let reference = query["ref"] else {
                throw UIRequestError.badRequest(
                    "say which run or checkpoint: ?ref=run:12 (or run:12:best, sha256:PREFIX)")
            }
            let direction: LineageDirection
            switch query["direction"] ?? "up" {
            case "up": direction = .up
            case "down": direction = .down
            case let other: throw UIRequestError.badRequest("direction is up or down, not '\(other)'")
            }
            let node = try LineagePage.node(for: reference, in: registry)
            let renderer = LineageRenderer(
                graph: try registry.lineage(of: node, direction: direction), foldUnusedArtifacts: query["all"] != "1")
            if segments[0] == "lineage.dot" {
                return UIResponse(
                    status: 200, contentType: "text/vnd.graphviz; charset=utf-8", body: Array(renderer.dot().utf8))
            }
            return .jsonText(try renderer.json())
        default:
            throw UIRequestError.notFound(
                "no API at /api/\(segments.joined(separator: "/")); there are /api/runs, /api/runs/ID, "
                    + "/api/compare?runs=A,B, /api/sweeps/ID, /api/lineage?ref=REF&direction=up|down and /api/lineage.dot"
            )
        }
    }

    // MARK: Files

    private func file(_ segments: [String]) throws -> UIResponse {
        let files = RunOutputFiles(registry: registry)
        let url: URL
        if segments.count == 4, segments[0] == "run", segments[2] == "pictures" {
            url = try files.picture(run: try runID(segments[1]), name: segments[3])
        } else if segments.count == 2, segments[0] == "artifact" {
            url = try files.artifact(sha256: segments[1])
        } else {
            throw UIRequestError.notFound(
                "files are served as /files/run/ID/pictures/NAME or /files/artifact/SHA256 only")
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw UIRequestError.notFound("\(url.lastPathComponent) cannot be read")
        }
        var response = UIResponse(status: 200, contentType: RunOutputFiles.contentType(of: url), body: [UInt8](data))
        if segments[0] == "artifact" {
            response.headers["Content-Disposition"] = "attachment; filename=\"\(url.lastPathComponent)\""
        }
        return response
    }

    // MARK: Helpers

    private func runID(_ text: String) throws -> RunID {
        guard let id = RunID(text), id > 0 else {
            throw UIRequestError.notFound("'\(text)' is not a run id (a positive number)")
        }
        return id
    }

    private func sweepID(_ text: String) throws -> Int64 {
        guard let id = Int64(text), id > 0 else {
            throw UIRequestError.badRequest("a sweep id is a positive number (/sweep/3, /api/sweeps/3), not '\(text)'")
        }
        return id
    }

    private func lineageChooser() throws -> String {
        let recent = try registry.runs().prefix(20).map {
            "<li><a href=\"/lineage?ref=run:\($0.id)\">run \($0.id)</a> \(UILayout.escape($0.task)) "
                + UILayout.status($0.status) + "</li>"
        }
        return UILayout.page(
            title: "lineage", active: .lineage,
            body: """
                <h1>Lineage</h1>
                <form class="filters" method="get" action="/lineage">
                <label>from (run:12, run:12:best, sha256:PREFIX)<input name="ref" size="24"/></label>
                <button type="submit">show</button></form>
                <p>Recent runs:</p><ul>\(recent.joined())</ul>
                """)
    }

    private func compareChooser() -> String {
        UILayout.page(
            title: "compare", active: .compare,
            body: """
                <h1>Compare</h1>
                <form class="filters" method="get" action="/compare">
                <label>runs (two or more, comma-separated)<input name="runs" size="24"/></label>
                <button type="submit">compare</button></form>
                <p class="muted">Or tick runs in the <a href="/runs">runs table</a> and press "compare selected".</p>
                """)
    }

    private func failure(_ message: String, status: Int, api: Bool) -> UIResponse {
        if api {
            struct Failure: Encodable { let error: String }
            return (try? .json(Failure(error: message), status: status)) ?? .plain(message, status: status)
        }
        return .html(UILayout.errorPage(message, status: status), status: status)
    }

    private static func status(of error: UserFacingError) -> Int {
        if error is SweepNotFoundError { return 404 }
        if let registryError = error as? RegistryError {
            switch registryError {
            case .runNotFound: return 404
            default: return 400
            }
        }
        return 400
    }
}
