import ArgumentParser
import MixKit

/// The `mixmae` command line: one type per subcommand, grouped by topic.
struct MixmaeCommand: ParsableCommand {
    /// This release of mixmae.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "mixmae",
        abstract: "MixMAE pretraining and finetuning of hierarchical vision transformers.",
        discussion: """
            Exit status: 0 ok, 1 error, 2 usage mistake, 130 or 143 when a training is interrupted \
            by SIGINT or SIGTERM (the run is saved, KILLED, and continues with `train --resume`).
            """,
        version: versionText,
        subcommands: [
            TrainCommand.self, RerunCommand.self, SweepCommand.self, ForwardCommand.self, ImportCommand.self,
            RecipeCommand.self,
            EvalCommand.self,
            DataCommand.self, PluginsCommand.self, RunsCommand.self, LineageCommand.self, ReportCommand.self,
            UICommand.self,
            BenchCommand.self, FlopsCommand.self, DebugCommand.self,
        ]
    )

    /// What `mixmae --version` prints: mixmae, the SDK it runs, the stamp a plugin must
    /// match to load, the compiler, the C kernel path chosen for this CPU, the BLAS, what runs GEMMs
    /// and the compute threads.
    static var versionText: String {
        let host = PluginABI.hostStamp()
        return """
            mixmae \(version)
            MixKit SDK \(host.sdkVersion)
            plugin ABI stamp: SDK \(host.sdkVersion), Swift \(host.compilerDescription) (a plugin must have SDK \
            major \(host.sdkMajor), minor <= \(host.sdkMinor), and the same compiler)
            Swift compiler \(host.compilerDescription)
            C kernels: \(CPUFeatures.summary)
            BLAS: \(CPUFeatures.blasSummary)
            GEMM: \(GEMMKernels.summary)
            compute threads: \(Parallel.summary)
            """
    }
}
