import Foundation
import MixKit

/// The recipe loader as a fuzz target: YAML parsing, `base:` merging with
/// tags, `--set` overrides and the schema check, on arbitrary bytes.
///
/// One input holds up to four files separated by lines `%%%`: the first is
/// the recipe (`a.yaml`), the others `b.yaml`, `c.yaml` and `d.yaml`, which
/// it (and they) may name in `base:`. Lines of the recipe starting `#set `
/// are `--set` overrides. The files are written to a private folder for each
/// input. The fuzz target in `Fuzz/` calls ``run(_:)``, and the test suite
/// replays the saved corpus and crashers through it.
///
/// ```swift
/// let outcome = RecipeFuzzing.run(Array("base: b.yaml\n%%%\noptim: {base_lr: 1e-3}\n".utf8))
/// ```
public enum RecipeFuzzing {
    /// The name of the target, as `Fuzz/` and `scripts/fuzz` know it.
    public static let targets = ["recipe"]

    /// The file names the parts of an input are written to.
    static let fileNames = ["a.yaml", "b.yaml", "c.yaml", "d.yaml"]

    /// The schema inputs are checked against: the common sections and one
    /// component of each kind with parameters of every type.
    static let checker: RecipeChecker = {
        let schema = RecipeSchema.recipe(
            tasks: [("pretrain", "fuzzing"), ("classify", "fuzzing")],
            taskSections: [
                .section(
                    "mask", [.float("ratio", default: 0.5, range: 0...1, doc: "Mixing ratio.")], doc: "Mask.")
            ])
        let parameters: [ParameterSpec] = [
            .int("embed_dim", default: 96, range: 1...4096, doc: "Width."),
            .intList("depths", default: [2, 2], range: 1...64, doc: "Blocks per stage."),
            .float("drop_path", default: 0.1, range: 0...1, doc: "Drop path."),
            .bool("use_mlp", default: true, doc: "MLP."),
            .string("activation", default: "gelu", allowed: ["gelu", "relu"], doc: "Activation."),
        ]
        var table: [ComponentKind: [String: [ParameterSpec]]] = [:]
        for kind in ComponentKind.allCases { table[kind] = ["toy": parameters] }
        return RecipeChecker(schema: schema, components: ComponentCatalog(table))
    }()

    /// Loads and checks one input; nil for an unknown target name.
    public static func run(_ name: String, _ bytes: [UInt8]) -> ReaderFuzzing.Outcome? {
        name == "recipe" ? run(bytes) : nil
    }

    /// Loads and checks one input.
    public static func run(_ bytes: [UInt8]) -> ReaderFuzzing.Outcome {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("mixmae-fuzz-recipe-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let parts = split(bytes)
            for (part, name) in zip(parts, fileNames) {
                try Data(part).write(to: folder.appendingPathComponent(name))
            }
            let text = String(decoding: parts[0], as: UTF8.self)
            let arguments = text.split(separator: "\n").filter { $0.hasPrefix("#set ") }.map { String($0.dropFirst(5)) }
            let overrides = try RecipeOverride.parse(arguments)
            let recipe = try RecipeLoader().load(folder.appendingPathComponent(fileNames[0]).path, overrides: overrides)
            _ = recipe.yaml(provenance: true)
            let checked = checker.check(recipe)
            return .accepted(checked.issues.count)
        } catch {
            return .rejected(String(describing: error))
        }
    }

    /// The input cut at lines `%%%`, at most four parts.
    static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var parts: [[UInt8]] = [[]]
        var lineStart = 0
        var index = 0
        while index <= bytes.count {
            if index == bytes.count || bytes[index] == UInt8(ascii: "\n") {
                let line = bytes[lineStart..<index]
                if line.elementsEqual("%%%".utf8) && parts.count < fileNames.count {
                    parts.append([])
                } else {
                    parts[parts.count - 1] += line
                    if index < bytes.count { parts[parts.count - 1].append(UInt8(ascii: "\n")) }
                }
                lineStart = index + 1
            }
            index += 1
        }
        return parts
    }
}
