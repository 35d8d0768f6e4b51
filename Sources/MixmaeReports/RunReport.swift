import Foundation
import MixmaeRuns
import MixmaeSupport

/// One self-contained HTML page about a run: summary, plugins, final and best metrics, the
/// metric curves (inline SVG), the latest reconstruction pictures (PNG files referenced by
/// relative path), the lineage up and down (an inline SVG laid out here), artifacts with
/// sizes and hashes, and the resolved recipe.
///
/// The page is well-formed XML (XHTML syntax), so scripts and tests can read it with any XML
/// parser; every file it references exists when it is written.
///
/// ```swift
/// let url = try RunReport(registry: registry, run: 12).write()   // runs/12/report.html
/// ```
public struct RunReport {
    public let registry: RunRegistry
    public let run: RunID

    public init(registry: RunRegistry, run: RunID) {
        self.registry = registry
        self.run = run
    }

    /// `runs/<id>/report.html`.
    public var defaultURL: URL {
        registry.outputDirectory(ofRun: run).appendingPathComponent("report.html")
    }

    /// Renders the run's curves into `runs/<id>/curves/`, writes the page to `url` (default
    /// ``defaultURL``) and returns where it went.
    @discardableResult
    public func write(to url: URL? = nil) throws -> URL {
        let target = (url ?? defaultURL).standardizedFileURL
        _ = try registry.requireRun(run)
        try RunCurves(registry: registry, run: run).write()
        let page = try html(pageDirectory: target.deletingLastPathComponent())
        do {
            try FileManager.default.createDirectory(
                at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try page.write(to: target, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError.cannotWrite(path: target.path, reason: error.localizedDescription)
        }
        return target
    }

    /// The page, with file references relative to `pageDirectory` (where it will be saved).
    public func html(pageDirectory: URL) throws -> String {
        let details = try registry.details(ofRun: run)
        let record = details.run
        var page = HTMLPage()
        page.line("<!DOCTYPE html>")
        page.line("<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">")
        page.line("<head>")
        page.line("<meta charset=\"utf-8\"/>")
        page.line("<title>\(e("run \(record.id) · \(record.task) · \(record.status)"))</title>")
        page.line("<style>\(Self.style)</style>")
        page.line("</head>")
        page.line("<body>")
        try sections(details, pictureHref: { RelativePath.href(to: $0, from: pageDirectory) }, into: &page)
        page.line(
            "<p class=\"muted footer\">Written by <code>mixmae report \(record.id)</code> on "
                + "\(e(RegistryDates.display(Date()))) from the registry in <code>\(e(registry.home.path))</code>.</p>")
        page.line("</body>")
        page.line("</html>")
        return page.text
    }

    /// Everything the page shows, without its `<html>`, `<head>` and footer: what `mixmae ui`
    /// embeds in its run page, with pictures linked through `pictureHref`.
    package func bodyHTML(pictureHref: (URL) -> String) throws -> String {
        var page = HTMLPage()
        try sections(try registry.details(ofRun: run), pictureHref: pictureHref, into: &page)
        return page.text
    }

    /// The curves section's charts (inline SVG, one after the other), for a page that
    /// refreshes them while the run trains.
    package func chartsHTML() throws -> String {
        try RunCurves(registry: registry, run: run).charts().map { $0.chart.svgElement() }.joined(separator: "\n")
    }

    /// The pictures the page shows: the latest file of each kind, and the earlier ones.
    package func pictureFiles() -> [URL] {
        let folder = registry.outputDirectory(ofRun: run).appendingPathComponent("pictures", isDirectory: true)
        return ReportPictures.latest(in: folder).flatMap { [$0.latest] + $0.earlier }
    }

    /// The report's style sheet.
    package static var styleSheet: String { style }

    // MARK: Sections

    private func sections(_ details: RunDetails, pictureHref: (URL) -> String, into page: inout HTMLPage) throws {
        let record = details.run
        page.line(
            "<h1>run \(record.id) <span class=\"muted\">·</span> \(e(record.task)) "
                + "<span class=\"status \(record.status.rawValue)\">\(record.status.rawValue)</span></h1>")
        if let error = record.error {
            page.line("<pre class=\"error\">\(e(error))</pre>")
        }
        summary(details, into: &page)
        metrics(details, into: &page)
        try curves(into: &page)
        pictures(href: pictureHref, into: &page)
        try lineage(into: &page)
        artifacts(details, into: &page)
        page.line("<h2 id=\"recipe\">Resolved recipe</h2>")
        page.line("<p class=\"muted\">sha256 <code>\(e(details.recipe.sha256))</code></p>")
        page.line("<pre class=\"recipe\">\(e(details.recipe.text))</pre>")
    }

    private func summary(_ details: RunDetails, into page: inout HTMLPage) {
        let record = details.run
        page.line("<h2 id=\"summary\">Summary</h2>")
        var rows: [(String, String)] = [
            ("task", e(record.task)),
            ("status", e(record.status.rawValue)),
            ("started", e(RegistryDates.display(record.startedAt))),
            (
                "ended",
                record.endedAt.map { e(RegistryDates.display($0)) } ?? "still running (last heartbeat "
                    + e(RegistryDates.display(record.heartbeatAt)) + ")"
            ),
            ("duration", e(RegistryText.runDuration(record))),
            ("attempts", String(record.attempt)),
            ("seed", record.seed.map { String($0) } ?? "-"),
            ("host", e("\(record.host)  (pid \(record.pid))")),
            ("recipe", "sha256 <code>\(e(details.recipe.sha256))</code>"),
            ("output folder", "<code>\(e(details.outputDirectory))</code>"),
        ]
        if let parent = record.parentRunID { rows.append(("re-runs", "run \(parent)")) }
        for (key, value) in details.tags.sorted(by: { $0.key < $1.key }) {
            rows.append(("tag \(e(key))", e(value)))
        }
        page.line("<table class=\"facts\">")
        for (key, value) in rows {
            page.line("<tr><th>\(key)</th><td>\(value)</td></tr>")
        }
        page.line("</table>")

        page.line("<h3>Attempts</h3>")
        page.table(
            header: ["#", "status", "started", "ended", "duration", "host", "pid", "note"],
            numeric: [0, 4, 6],
            rows: details.attempts.map { attempt in
                [
                    String(attempt.attempt), e(attempt.status.rawValue), e(RegistryDates.display(attempt.startedAt)),
                    attempt.endedAt.map { e(RegistryDates.display($0)) } ?? "-",
                    attempt.endedAt.map { e(formatDuration($0.timeIntervalSince(attempt.startedAt))) } ?? "-",
                    e(attempt.host), String(attempt.pid), e(attempt.error ?? ""),
                ]
            })

        page.line("<h3>Plugins</h3>")
        if details.plugins.isEmpty {
            page.line("<p class=\"muted\">none recorded</p>")
        } else {
            page.table(
                header: ["id", "version", "library", "library sha256"], numeric: [],
                rows: details.plugins.map {
                    [
                        e($0.id), e($0.version), "<code>\(e($0.libraryPath))</code>",
                        "<code>\(e($0.librarySHA256))</code>",
                    ]
                })
        }
    }

    private func metrics(_ details: RunDetails, into page: inout HTMLPage) {
        page.line("<h2 id=\"metrics\">Metrics</h2>")
        guard !details.metrics.isEmpty else {
            page.line("<p class=\"muted\">no metric was logged</p>")
            return
        }
        page.table(
            header: ["metric", "final", "at step", "best", "at step", "values"], numeric: [1, 2, 3, 4, 5],
            rows: details.metrics.map { metric in
                [
                    "<span class=\"metric\">\(e(metric.name))</span>", e(RegistryText.value(metric.last.value)),
                    String(metric.last.step),
                    metric.best.map {
                        e(RegistryText.value($0.value) + (metric.goal == .minimize ? " (min)" : " (max)"))
                    } ?? "-",
                    metric.best.map { String($0.step) } ?? "-", String(metric.count),
                ]
            })
    }

    private func curves(into page: inout HTMLPage) throws {
        let charts = try RunCurves(registry: registry, run: run).charts()
        guard !charts.isEmpty else { return }
        page.line("<h2 id=\"curves\">Curves</h2>")
        page.line("<div class=\"charts\" id=\"charts\">")
        for (_, chart) in charts {
            page.line(chart.svgElement())
        }
        page.line("</div>")
    }

    private func pictures(href: (URL) -> String, into page: inout HTMLPage) {
        let folder = registry.outputDirectory(ofRun: run).appendingPathComponent("pictures", isDirectory: true)
        let latest = ReportPictures.latest(in: folder)
        guard !latest.isEmpty else { return }
        page.line("<h2 id=\"pictures\">Pictures</h2>")
        for picture in latest {
            let source = href(picture.latest)
            let size = PNGSize.read(picture.latest).map { " width=\"\(min(2 * $0.width, 900))\"" } ?? ""
            page.line("<figure>")
            page.line("<img class=\"picture\" src=\"\(e(source))\" alt=\"\(e(picture.caption))\"\(size)/>")
            var caption = e(picture.caption)
            if !picture.earlier.isEmpty {
                let links = picture.earlier.map {
                    "<a href=\"\(e(href($0)))\">\(e($0.lastPathComponent))</a>"
                }
                caption += "<br/>earlier: " + links.joined(separator: ", ")
            }
            page.line("<figcaption>\(caption)</figcaption>")
            page.line("</figure>")
        }
    }

    private func lineage(into page: inout HTMLPage) throws {
        let up = try registry.lineage(of: .run(run), direction: .up)
        let down = try registry.lineage(of: .run(run), direction: .down)
        let diagram = LineageDiagram(up: up, down: down)
        page.line("<h2 id=\"lineage\">Lineage</h2>")
        page.line(
            "<p class=\"muted\">Where this run came from (left) and what came from it (right); arrows follow "
                + "the data, labelled with the role in which a file was used or produced.</p>")
        page.line("<div class=\"lineage\">")
        page.line(diagram.svgElement())
        page.line("</div>")
        if !diagram.folded.isEmpty {
            let notes = diagram.folded.sorted { $0.key < $1.key }.map { "run \($0.key): \($0.value)" }
            page.line(
                "<p class=\"muted\">Not drawn: produced artifacts that nothing used, other than the latest last and "
                    + "best checkpoints (\(e(notes.joined(separator: "; ")))). The artifact table lists them.</p>")
        }
        let relativeTo = registry.home.path
        page.line("<details><summary>as text</summary>")
        for (graph, flag) in [(up, "--up"), (down, "--down")] {
            page.line("<p class=\"muted\"><code>mixmae lineage \(run) \(flag)</code></p>")
            page.line("<pre>\(e(LineageRenderer(graph: graph, relativeTo: relativeTo).tree()))</pre>")
        }
        page.line("</details>")
    }

    private func artifacts(_ details: RunDetails, into page: inout HTMLPage) {
        page.line("<h2 id=\"artifacts\">Artifacts</h2>")
        guard !details.artifacts.isEmpty else {
            page.line("<p class=\"muted\">none recorded</p>")
            return
        }
        page.table(
            header: ["event", "role", "step", "size", "sha256", "kind", "path", "file"], numeric: [2, 3],
            rows: details.artifacts.map { item in
                [
                    e(item.event.direction.rawValue), e(item.event.role.rawValue),
                    item.event.step.map { String($0) } ?? "-", e(ByteCount.format(item.artifact.size)),
                    "<code class=\"hash\">\(e(item.artifact.sha256))</code>", e(item.artifact.kind.rawValue),
                    "<code>\(e(item.event.path))</code>",
                    e(item.fileState == .moved ? "moved to \(item.artifact.path)" : item.fileState.rawValue),
                ]
            })
    }

    private func e(_ text: String) -> String { XMLText.escape(text) }

    private static let style = """
        body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
          max-width: 1180px; margin: 0 auto; padding: 20px 24px 40px; }
        h1 { font-size: 22px; margin: 8px 0 12px; }
        h2 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
        h3 { font-size: 14px; margin: 18px 0 6px; }
        table { border-collapse: collapse; margin: 4px 0 10px; }
        th, td { text-align: left; padding: 3px 14px 3px 0; vertical-align: top; border-bottom: 1px solid #eee; }
        th { font-weight: 600; color: #444; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        table.facts th { width: 130px; }
        code, pre { font-family: Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; }
        code.hash { font-size: 11px; }
        pre { background: #f7f7f7; border: 1px solid #e5e5e5; padding: 10px; overflow-x: auto; }
        pre.error { background: #fdf0f0; border-color: #f0c8c8; white-space: pre-wrap; }
        .muted { color: #777; }
        .status { font-size: 13px; padding: 2px 9px; border-radius: 10px; vertical-align: middle; }
        .FINISHED { background: #d9ead3; } .RUNNING { background: #cfe2f3; } .FAILED { background: #f4cccc; }
        .KILLED { background: #fce5cd; } .CRASHED { background: #e6b8af; }
        .charts { display: flex; flex-wrap: wrap; gap: 12px; }
        .charts svg { border: 1px solid #eee; }
        .lineage { overflow-x: auto; }
        figure { margin: 8px 0 16px; }
        img.picture { image-rendering: pixelated; border: 1px solid #ddd; max-width: 100%; height: auto; }
        figcaption { color: #555; font-size: 13px; margin-top: 4px; }
        .footer { margin-top: 30px; font-size: 12px; }
        """
}

/// Lines of an HTML page being written.
struct HTMLPage {
    private(set) var lines: [String] = []

    var text: String { lines.joined(separator: "\n") + "\n" }

    mutating func line(_ text: String) { lines.append(text) }

    /// A table of already-escaped cells; `numeric` columns are right-aligned.
    mutating func table(header: [String], numeric: Set<Int>, rows: [[String]]) {
        line("<table>")
        line("<tr>" + header.map { "<th>\(XMLText.escape($0))</th>" }.joined() + "</tr>")
        for row in rows {
            let cells = row.enumerated().map { index, cell in
                numeric.contains(index) ? "<td class=\"num\">\(cell)</td>" : "<td>\(cell)</td>"
            }
            line("<tr>" + cells.joined() + "</tr>")
        }
        line("</table>")
    }
}

/// The pictures a run wrote, newest of each kind: files named `<kind>-epoch-NNNN.png`
/// (`reconstruction-epoch-0008.png`) are one kind per prefix; any other PNG is its own.
enum ReportPictures {
    struct Picture {
        var latest: URL
        var earlier: [URL]
        var caption: String
    }

    /// What the columns of a picture kind show.
    static let columns = [
        "reconstruction": "columns: original | mixed input | reconstruction",
        "detections": "first validation images at their own sizes; columns: ground truth | predicted boxes "
            + "with score >= 0.3, coloured and tagged by class",
        "segmentation": "first validation images at their own sizes; columns: ground truth | predicted label "
            + "map, one colour per class",
    ]

    static func latest(in folder: URL) -> [Picture] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        var groups: [String: [String]] = [:]
        for name in names where name.lowercased().hasSuffix(".png") {
            let kind = name.range(of: "-epoch-").map { String(name[..<$0.lowerBound]) } ?? name
            groups[kind, default: []].append(name)
        }
        return groups.keys.sorted().map { kind in
            let files = groups[kind]!.sorted()
            let latest = files.last!
            var caption = latest
            if let range = latest.range(of: "-epoch-") {
                let digits = latest[range.upperBound...].prefix { $0.isNumber }
                caption = "\(kind), epoch \(Int(digits) ?? 0)"
                if let columns = columns[kind] { caption += " (\(columns))" }
            }
            return Picture(
                latest: folder.appendingPathComponent(latest),
                earlier: files.dropLast().map { folder.appendingPathComponent($0) }, caption: caption)
        }
    }
}

/// Relative references from a page to the files it shows.
enum RelativePath {
    /// The path of `file` relative to `directory`, percent-encoded for an `href` or `src`.
    static func href(to file: URL, from directory: URL) -> String {
        let target = file.standardizedFileURL.pathComponents
        let base = directory.standardizedFileURL.pathComponents
        var common = 0
        while common < min(target.count, base.count) && target[common] == base[common] { common += 1 }
        let parts = Array(repeating: "..", count: base.count - common) + target[common...]
        return parts.map { $0.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? $0 }
            .joined(separator: "/")
    }
}

/// The pixel size in a PNG file's header.
enum PNGSize {
    static func read(_ url: URL) -> (width: Int, height: Int)? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 24), header.count == 24,
            header.starts(with: [0x89, 0x50, 0x4E, 0x47]), Array(header[12..<16]) == Array("IHDR".utf8)
        else { return nil }
        let bytes = [UInt8](header)
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
        let height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        return (width, height)
    }
}
