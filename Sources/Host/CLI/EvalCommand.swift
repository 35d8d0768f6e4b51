import ArgumentParser

/// `mixmae eval`: evaluation of predictions with the field's metrics.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate predictions: COCO box AP or semantic segmentation mIoU.",
        subcommands: [EvalCOCOCommand.self, EvalSegCommand.self]
    )
}
