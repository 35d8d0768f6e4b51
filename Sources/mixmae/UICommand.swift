import ArgumentParser
import Foundation
import MixmaeUI

/// `mixmae ui [--home DIR] [--port P] [--host H]`.
struct UICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Browse runs, curves, lineage and comparisons in a local web page (read-only).",
        discussion: """
            Serves the run registry on http://127.0.0.1:8080/ until Ctrl-C: a sortable, filterable \
            table of runs with live status, each run's report with curves that update while it trains, \
            an interactive lineage graph, and a comparison of two or more runs. /api/runs, \
            /api/runs/ID, /api/compare?runs=A,B and /api/lineage?ref=REF&direction=up|down return what \
            `runs list`, `runs show`, `runs compare` and `lineage` print with --format json. The \
            registry is opened read-only; the server shows only run outputs (pictures, produced \
            artifacts). It listens on 127.0.0.1 only: --host 0.0.0.0 shows your runs to your network.
            """
    )

    @OptionGroup var home: HomeOptions

    @Option(help: "The port to listen on (0: any free port; the address is printed).")
    var port: Int = 8080

    @Option(help: "The address to listen on.")
    var host: String = "127.0.0.1"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, not \(port)") }
    }

    func run() throws {
        let server = try UIServer(home: home.url, host: host, port: port)
        let home = server.home.path
        // The server is async; the command line (main.swift) is not: wait here for it to stop.
        let outcome = ServerOutcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run { url in
                    print("mixmae ui: serving the registry in \(home) at \(url) (Ctrl-C stops)")
                    fflush(stdout)
                }
            } catch {
                outcome.error = error
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error { throw error }
    }
}

/// How the server task ended, handed back to the waiting command.
private final class ServerOutcome: @unchecked Sendable {
    var error: Error?
}
