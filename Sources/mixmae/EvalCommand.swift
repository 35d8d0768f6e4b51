import ArgumentParser

/// `mixmae eval`: evaluation of a trained checkpoint (the default subcommand), and of
/// predictions with the field's metrics.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on its recipe's validation split, or score predictions (COCO AP, mIoU).",
        discussion: """
            `mixmae eval RECIPE --checkpoint REF` is `mixmae eval model RECIPE --checkpoint REF`.
            """,
        subcommands: [EvalModelCommand.self, EvalCOCOCommand.self, EvalSegCommand.self],
        defaultSubcommand: EvalModelCommand.self
    )
}
