import Foundation
import MixmaeRuns

/// One page of the runs table, sorted on the server: `/api/runs?...&page_size=50&page=2&sort=metric:top1&dir=desc`.
/// The filters are those of `/api/runs`; the runs are the entries `mixmae runs list --format json`
/// prints, for this page only. Metrics are read for the page's runs only (and, to sort by a
/// metric, that metric for every run), so a page costs little however many runs there are.
///
/// ```swift
/// let paging = try RunsPaging(UIQuery("page_size=50&page=1&sort=startedAt&dir=asc"))
/// let page = try paging.page(of: registry.runs(), metrics: ["top1"], in: registry)
/// page.total   // every run that passed the filters
/// ```
package struct RunsPaging: Equatable {
    /// The column to sort by: `id`, `task`, `status`, `startedAt`, `duration`, `attempt`, `seed`,
    /// `recipe`, `host`, `note`, or `metric:NAME`.
    package var sort: String
    package var descending: Bool
    /// 1-based.
    package var page: Int
    package var pageSize: Int

    package static let columns = [
        "id", "task", "status", "startedAt", "duration", "attempt", "seed", "recipe", "host", "note",
    ]
    package static let largestPage = 1000

    /// The paging a query asks for, nil when it has no `page_size` (then `/api/runs` answers
    /// every run, as the CLI prints them).
    package init?(_ query: UIQuery) throws {
        guard query.has("page_size") else { return nil }
        guard let size = query["page_size"].flatMap(Int.init), (1...Self.largestPage).contains(size) else {
            throw UIRequestError.badRequest(
                "page_size must be a whole number in 1...\(Self.largestPage), not '\(query["page_size"] ?? "")'")
        }
        let page = query["page"].map(Int.init) ?? 1
        guard let page, page >= 1 else {
            throw UIRequestError.badRequest("page must be a whole number from 1, not '\(query["page"] ?? "")'")
        }
        let sort = query["sort"] ?? "id"
        guard Self.columns.contains(sort) || (sort.hasPrefix("metric:") && sort.count > 7) else {
            throw UIRequestError.badRequest(
                "cannot sort by '\(sort)'; sort by " + Self.columns.joined(separator: ", ") + " or metric:NAME")
        }
        let dir = query["dir"] ?? "desc"
        guard dir == "asc" || dir == "desc" else {
            throw UIRequestError.badRequest("dir is asc or desc, not '\(dir)'")
        }
        self.init(sort: sort, descending: dir == "desc", page: page, pageSize: size)
    }

    package init(sort: String, descending: Bool, page: Int, pageSize: Int) {
        self.sort = sort
        self.descending = descending
        self.page = page
        self.pageSize = pageSize
    }

    /// A page of runs and where it lies. JSON: `total`, `page`, `pageSize`, `pages`, `sort`, `dir`, `runs`.
    package struct Page: Encodable {
        package var total: Int
        package var page: Int
        package var pageSize: Int
        package var pages: Int
        package var sort: String
        package var dir: String
        package var runs: [ListedRun]
    }

    /// The page of `runs` (already filtered), each with the last value of `metrics`.
    /// A page past the last is empty (its `pages` says how many there are).
    package func page(
        of runs: [RunRecord], metrics: [String]?, in registry: RunRegistry, now: Date = Date()
    ) throws -> Page {
        let sorted = try order(runs, in: registry, now: now)
        let start = min((page - 1) * pageSize, sorted.count)
        let shown = Array(sorted[start..<min(start + pageSize, sorted.count)])
        return Page(
            total: runs.count, page: page, pageSize: pageSize, pages: max(1, (runs.count + pageSize - 1) / pageSize),
            sort: sort, dir: descending ? "desc" : "asc", runs: try registry.listedRuns(of: shown, metrics: metrics))
    }

    /// A sortable value: numbers and text; a run without one (a metric it never logged, NaN)
    /// comes last in either direction.
    private enum Key: Comparable {
        case number(Double)
        case text(String)
    }

    private func order(_ runs: [RunRecord], in registry: RunRegistry, now: Date) throws -> [RunRecord] {
        var keys: [RunID: Key] = [:]
        if sort.hasPrefix("metric:") {
            let name = String(sort.dropFirst(7))
            for listed in try registry.listedRuns(of: runs, metrics: [name]) {
                if let value = listed.metrics?[name] ?? nil, !value.isNaN { keys[listed.run.id] = .number(value) }
            }
        } else {
            for run in runs { keys[run.id] = key(of: run, now: now) }
        }
        return runs.sorted { a, b in
            switch (keys[a.id], keys[b.id]) {
            case (nil, nil): return a.id > b.id
            case (nil, _): return false
            case (_, nil): return true
            case (let x?, let y?):
                if x == y { return descending ? a.id > b.id : a.id < b.id }
                return descending ? x > y : x < y
            }
        }
    }

    private func key(of run: RunRecord, now: Date) -> Key? {
        switch sort {
        case "id": return .number(Double(run.id))
        case "task": return .text(run.task)
        case "status": return .text(run.status.rawValue)
        case "startedAt": return .number(run.startedAt.timeIntervalSince1970)
        case "duration": return .number((run.endedAt ?? now).timeIntervalSince(run.startedAt))
        case "attempt": return .number(Double(run.attempt))
        case "seed": return run.seed.map { .number(Double($0)) }
        case "recipe": return .text(run.recipeSHA256)
        case "host": return .text(run.host)
        default: return .text(run.error ?? run.parentRunID.map { "rerun of run \($0)" } ?? "")
        }
    }
}
