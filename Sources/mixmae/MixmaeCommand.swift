import ArgumentParser

/// The `mixmae` command line: one type per subcommand, grouped by topic.
public struct MixmaeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mixmae",
        abstract: "MixMAE pretraining and finetuning of hierarchical vision transformers.",
        subcommands: [
            TrainCommand.self, RerunCommand.self, ForwardCommand.self, RecipeCommand.self, EvalCommand.self,
            DataCommand.self, PluginsCommand.self, RunsCommand.self, LineageCommand.self, ReportCommand.self,
            BenchCommand.self, DebugCommand.self,
        ]
    )

    public init() {}
}
