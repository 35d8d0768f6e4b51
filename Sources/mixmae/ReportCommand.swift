import ArgumentParser
import Foundation
import MixmaeReports
import MixmaeRuns

/// `mixmae report RUN [--out FILE]`.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one HTML page about a run: summary, metrics, curves, pictures, lineage, artifacts, recipe.",
        discussion: """
            The page goes to $MIXMAE_HOME/runs/<id>/report.html unless --out says otherwise; the \
            run's curves are rendered again into runs/<id>/curves/ first. Curves and the lineage \
            graph are inline SVG; pictures are referenced by paths relative to the page, so move \
            the page together with the run folder. Prints the page's path.
            """
    )

    @OptionGroup var home: HomeOptions

    @Argument(help: ArgumentHelp("The run: 12, run:12 or run:12:best.", valueName: "run"))
    var reference: String

    @Option(help: ArgumentHelp("Where to write the page (default: the run's folder).", valueName: "file"))
    var out: String?

    func run() throws {
        let registry = try home.open()
        let runID = try RunReference(parsing: reference).runID
        let target = out.map {
            URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath, relativeTo: nil).standardizedFileURL
        }
        let written = try RunReport(registry: registry, run: runID).write(to: target)
        print(written.path)
    }
}
