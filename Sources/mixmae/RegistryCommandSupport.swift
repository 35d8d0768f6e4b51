import ArgumentParser
import Foundation
import MixmaeRuns

/// How a registry command prints its answer.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
    case tree
    case dot

    /// Each command's help names the formats it prints, so the shared list stays out of it.
    static var allValueStrings: [String] { [] }

    /// Fails with a usage error unless the format is one of `allowed`.
    func require(_ allowed: [OutputFormat], command: String) throws {
        guard allowed.contains(self) else {
            throw ValidationError(
                "\(command) prints " + allowed.map(\.rawValue).joined(separator: ", ")
                    + "; not '\(rawValue)'")
        }
    }
}

/// `--home`: which registry to open (default: MIXMAE_HOME, else ./.mixmae).
struct RegistryLocation: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The registry folder (default: $MIXMAE_HOME, else ./.mixmae).", valueName: "dir"))
    var home: String?

    func open(options: RunRegistry.Options = RunRegistry.Options()) throws -> RunRegistry {
        let url = home.map {
            URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath, isDirectory: true)
        }
        return try RunRegistry(home: url, options: options)
    }
}
