import ArgumentParser

/// `mixmae data`: datasets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Make datasets.",
        subcommands: [DataSynthCommand.self]
    )
}
