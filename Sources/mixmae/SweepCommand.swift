import ArgumentParser
import Foundation
import MixmaeRecipes
import MixmaeRuns
import MixmaeSupport
import MixmaeTasks

/// `mixmae sweep RECIPE --grid KEY=V1,V2 ... [--jobs J] [--then RECIPE2 --set KEY=VALUE ...]`.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Train a recipe over a grid of values (Hydra's multirun), optionally with a second stage per point.",
        discussion: """
            Every combination of the --grid values is a normal run (`mixmae train RECIPE --set KEY=VALUE ...` \
            in a child process, its output in $MIXMAE_HOME/sweeps/<id>/), tagged with the sweep's id, its point \
            and stage. --then RECIPE2 [--set KEY=VALUE ...] (last on the line) trains RECIPE2 once per point after \
            the point's first run finished; in its --set values {parent} is that run (run:ID, e.g. \
            init.weights={parent}) and {KEY} the point's value of grid key KEY. Every point's recipes are checked \
            before anything runs. Ctrl-C stops the sweep: running stages stop at a step boundary and are saved \
            (KILLED), exit status 130. Running the same command again skips finished stages and resumes killed \
            ones. At the end it prints `mixmae runs compare --sweep ID`. A zipped axis, \
            --grid '(K1,K2)=(A1,A2),(B1,B2)', varies keys together, for points that are not a full grid \
            (e.g. mask_token at the epochs that give it mix's compute).

            Example: mixmae sweep recipes/ablation/pretrain.yaml --grid mask.mode=mix,mask_token --grid seed=0,1 \
            --then recipes/ablation/finetune.yaml --set init.weights={parent} --set seed={seed}
            """
    )

    @OptionGroup var recipe: RecipeOptions

    @Option(
        name: .customLong("grid"),
        help: ArgumentHelp(
            "A key and its values: KEY=V1,V2,... (commas inside [...], {...} or (...) do not split). Repeatable; every "
                + "combination runs, the first key varying slowest. (K1,K2)=(A1,A2),(B1,B2) varies keys together.",
            valueName: "key=values"))
    var grids: [String] = []

    @Option(help: "Stages to run at once, each a child process (the machine's cores are shared by them).")
    var jobs: Int = 1

    @Option(
        parsing: .remaining,
        help: ArgumentHelp(
            "RECIPE2 [--set KEY=VALUE ...]: a second stage per point (last on the command line).",
            valueName: "recipe2"))
    var then: [String] = []

    @OptionGroup var home: HomeOptions
    @OptionGroup var plugins: PluginRegistryOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if grids.isEmpty { throw ValidationError("give at least one --grid KEY=V1,V2,...") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if !then.isEmpty { _ = try thenStage() }
        let axes: [SweepSpec.Axis]
        do {
            axes = try grids.map(SweepSpec.axis(parsing:))
        } catch let error as InputError {
            throw ValidationError(error.what + (error.hint.map { "; " + $0 } ?? ""))
        }
        let keys = axes.flatMap(\.keys)
        if let repeated = keys.first(where: { key in keys.filter { $0 == key }.count > 1 }) {
            throw ValidationError("--grid \(repeated) is given twice: list all its values in one --grid")
        }
    }

    /// `--then RECIPE2 --set A --set=B`: the recipe and its overrides.
    func thenStage() throws -> (recipe: String, overrides: [String]) {
        guard let recipe = then.first, !recipe.hasPrefix("-") else {
            throw ValidationError("--then needs a recipe first: --then RECIPE2 [--set KEY=VALUE ...]")
        }
        var overrides: [String] = []
        var rest = then.dropFirst()[...]
        while let argument = rest.popFirst() {
            if argument == "--set", let value = rest.popFirst() {
                overrides.append(value)
            } else if argument.hasPrefix("--set=") {
                overrides.append(String(argument.dropFirst("--set=".count)))
            } else {
                throw ValidationError(
                    "after --then only --set KEY=VALUE may follow, got '\(argument)'; put other options before --then")
            }
        }
        return (recipe, overrides)
    }

    func run() throws {
        let axes = try grids.map(SweepSpec.axis(parsing:))
        let first = try recipe.load()
        var second: SweepSpec.Stage?
        if !then.isEmpty {
            let (path, overrides) = try thenStage()
            second = SweepSpec.Stage(
                recipe: path, recipeSHA256: try RecipeLoader().load(path).hash, overrides: overrides)
            if !overrides.contains(where: { $0.contains("{parent}") }) {
                FileHandle.standardError.write(
                    Data(
                        "note: no --set after --then names {parent}: the second stage does not start from the first (e.g. --set init.weights={parent})\n"
                            .utf8))
            }
        }
        let spec = SweepSpec(
            recipe: recipe.recipe, recipeSHA256: first.hash, overrides: recipe.overrides.overrides, grid: axes,
            then: second)
        let registry = try home.open()
        let runner = SweepRunner(
            spec: spec, registry: registry, catalog: try plugins.catalog(),
            options: SweepRunner.Options(
                executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
                pluginRegistry: plugins.path, jobs: jobs,
                log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }))
        try runner.validate()
        let outcome = try runner.run()
        let table = try SweepTable(registry: registry, sweep: outcome.sweep)
        if output.json { try output.print(table) } else { print(table.rendered(), terminator: "") }
        if let signal = outcome.signal {
            throw SweepError(
                what: "sweep \(outcome.sweep) stopped by signal \(signal); the running stages were saved (KILLED)",
                hint: "run the same command again to resume it", exitCode: ExitStatus.interrupted(by: signal))
        }
        if !outcome.failures.isEmpty {
            throw SweepError(
                what: "sweep \(outcome.sweep): \(outcome.failures.count) stage(s) failed:\n  "
                    + outcome.failures.joined(separator: "\n  "),
                hint: "fix the cause and run the same command again: finished stages are skipped")
        }
    }
}
