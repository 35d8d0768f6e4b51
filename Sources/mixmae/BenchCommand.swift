import ArgumentParser

/// `mixmae bench`: measurements of this machine and of the SDK's speed.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the speed of the SDK on this machine: single ops, full training steps, data augmentation.",
        subcommands: [
            BenchOpsCommand.self, BenchTrainCommand.self, BenchRoIAlignCommand.self, BenchAugmentCommand.self,
            BenchDetectCommand.self,
        ]
    )
}
