import ArgumentParser
import Foundation
import MixmaeSupport
import MixmaeTasks

/// `mixmae import FILE [--key KEY] [--out OUT.safetensors] [--format table|json]`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a PyTorch checkpoint (.pth/.pt/.bin) to safetensors and register it.",
        discussion: """
            Reads torch.save files in the zip format and the pre-1.6 format without running \
            anything in them: a pickle that would call a function (os.system, eval, a class) is \
            refused with its name and nothing is written or recorded. The state dict is found \
            under model, state_dict, ... or the top level ('module.' prefixes removed), or named \
            with --key; when that is ambiguous the error lists the candidates. Every tensor is \
            written under its own name and dtype (integer buffers too). The conversion is an \
            'import' run: it used the PyTorch file (kept with its sha256 and path) and produced \
            the safetensors (kind 'imported'), so `mixmae lineage` of a finetune from it starts \
            at the PyTorch file.
            """
    )

    @OptionGroup var home: HomeOptions

    @Argument(help: "The PyTorch checkpoint.") var file: String

    @Option(help: "The key of the state dict in the file (e.g. model, or a.b for nested dicts).") var key: String?

    @Option(help: "Where to write the safetensors (default: the import run's folder).") var out: String?

    @OptionGroup var output: OutputOptions

    func run() throws {
        let registry = try home.open()
        let source = URL(fileURLWithPath: (file as NSString).expandingTildeInPath)
        let target = out.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) }
        let result = try CheckpointImport(registry: registry).run(source: source, key: key, output: target)
        if output.json {
            try output.print(result)
            return
        }
        var table = TextTable()
        table.append(["run", "\(result.runID) (import)"])
        table.append(["source", "\(displayPath(result.source)) (\(result.sourceFormat) format)"])
        table.append(["source sha256", result.sourceSHA256])
        table.append(["state dict", result.key.isEmpty ? "the top level" : "'\(result.key)'"])
        let dtypes = result.dtypes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        table.append(["tensors", "\(result.tensorCount) (\(dtypes))"])
        if result.strippedModulePrefix { table.append(["names", "'module.' prefixes removed"]) }
        if !result.skipped.isEmpty {
            table.append([
                "left out",
                "\(result.skipped.count) entries that are not tensors: \(result.skipped.prefix(5).joined(separator: ", "))",
            ])
        }
        table.append(["wrote", displayPath(result.output)])
        table.append(["sha256", result.outputSHA256])
        print(table.rendered())
        print("use it as init.weights: \(displayPath(result.output)) (or sha256:\(result.outputSHA256.prefix(12)))")
    }
}
