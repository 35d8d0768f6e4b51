import ArgumentParser
import Foundation

// Command-line mistakes get ArgumentParser's usage text; errors while running
// print as `error: <what, where, what to do>` and exit with status 1.
var command: ParsableCommand
do {
    command = try MixmaeCommand.parseAsRoot()
} catch {
    MixmaeCommand.exit(withError: error)
}
do {
    try command.run()
} catch  where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
    // Help requests, exit codes and validation errors: ArgumentParser prints them.
    MixmaeCommand.exit(withError: error)
} catch {
    // Recipe and YAML errors already read `file:line:column: error: ...`.
    let text = "\(error)"
    let located = text.split(separator: "\n").first?.contains(": error: ") ?? false
    FileHandle.standardError.write(Data(((located ? "" : "error: ") + text + "\n").utf8))
    exit(1)
}
