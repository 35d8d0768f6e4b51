import Foundation
import MixmaeSupport

/// What `mixmae sweep` runs: a recipe with its overrides, a grid of override
/// values (Hydra's multirun: every combination, the last key varying fastest),
/// and optionally a second stage per grid point (`--then`), such as a finetune
/// that starts from the point's first-stage run (`{parent}`).
///
/// Two sweep commands with the same spec (same recipe contents, overrides,
/// grid and second stage) are the same sweep: the second resumes the first.
///
/// ```swift
/// let spec = SweepSpec(
///     recipe: "recipes/ablation/pretrain.yaml", recipeSHA256: hash, overrides: [],
///     grid: [SweepSpec.Axis(key: "mask.mode", values: ["mix", "mask_token"]), SweepSpec.Axis(key: "seed", values: ["0", "1"])],
///     then: nil)
/// spec.points.map(\.label)   // ["mask.mode=mix seed=0", "mask.mode=mix seed=1", ...]
/// ```
public struct SweepSpec: Codable, Equatable, Sendable {
    /// One varied key and its values, as given on the command line.
    public struct Axis: Codable, Equatable, Sendable {
        public var key: String
        public var values: [String]

        public init(key: String, values: [String]) {
            self.key = key
            self.values = values
        }
    }

    /// The second stage: a recipe run once per grid point after the first stage finished.
    public struct Stage: Codable, Equatable, Sendable {
        public var recipe: String
        /// The resolved recipe's hash before placeholders (`{parent}`, `{KEY}`) are filled in.
        public var recipeSHA256: String
        /// `--set` arguments; `{parent}` becomes `run:ID` of the point's first-stage run and
        /// `{KEY}` the point's value of grid key KEY.
        public var overrides: [String]

        enum CodingKeys: String, CodingKey {
            case recipe, recipeSHA256 = "recipe_sha256", overrides
        }

        public init(recipe: String, recipeSHA256: String, overrides: [String]) {
            self.recipe = recipe
            self.recipeSHA256 = recipeSHA256
            self.overrides = overrides
        }
    }

    /// One combination of the grid's values; `index` counts from 1.
    public struct Point: Equatable, Sendable {
        public var index: Int
        public var assignments: [(key: String, value: String)]

        public static func == (a: Point, b: Point) -> Bool {
            a.index == b.index
                && a.assignments.map { "\($0.key)=\($0.value)" }
                    == b.assignments.map { "\($0.key)=\($0.value)" }
        }

        /// `key=value` pairs, space-separated.
        public var label: String { assignments.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }

        /// The `--set` arguments of this point.
        public var overrides: [String] { assignments.map { "\($0.key)=\($0.value)" } }
    }

    public var recipe: String
    public var recipeSHA256: String
    public var overrides: [String]
    public var grid: [Axis]
    public var then: Stage?

    enum CodingKeys: String, CodingKey {
        case recipe, recipeSHA256 = "recipe_sha256", overrides, grid, then
    }

    public init(recipe: String, recipeSHA256: String, overrides: [String], grid: [Axis], then: Stage?) {
        self.recipe = recipe
        self.recipeSHA256 = recipeSHA256
        self.overrides = overrides
        self.grid = grid
        self.then = then
    }

    /// Every combination, the first axis varying slowest.
    public var points: [Point] {
        var combinations: [[(key: String, value: String)]] = [[]]
        for axis in grid {
            combinations = combinations.flatMap { prefix in axis.values.map { prefix + [(axis.key, $0)] } }
        }
        return combinations.enumerated().map { Point(index: $0.offset + 1, assignments: $0.element) }
    }

    /// The number of stages per point: 1, or 2 with `then`.
    public var stageCount: Int { then == nil ? 1 : 2 }

    /// The canonical JSON (sorted keys) that identifies the sweep.
    public func canonicalJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// `--grid KEY=V1,V2,...`: commas inside brackets or braces (`[2,2,6,2]`) do not split.
    public static func axis(parsing argument: String) throws -> Axis {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw InputError(
                "--grid \(argument): not KEY=V1,V2,...", hint: "write e.g. --grid mask.mode=mix,mask_token")
        }
        let key = String(argument[..<equals])
        var values: [String] = []
        var current = ""
        var depth = 0
        for character in argument[argument.index(after: equals)...] {
            switch character {
            case "[", "{": depth += 1
            case "]", "}": depth -= 1
            default: break
            }
            if character == "," && depth == 0 {
                values.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        values.append(current)
        values = values.map { $0.trimmingCharacters(in: .whitespaces) }
        guard !values.contains(where: \.isEmpty) else {
            throw InputError("--grid \(argument): an empty value", hint: "write \(key)=V1,V2,... without empty items")
        }
        guard Set(values).count == values.count else {
            throw InputError("--grid \(argument): a value is listed twice", hint: "list each value of \(key) once")
        }
        return Axis(key: key, values: values)
    }

    /// `template` with `{parent}` replaced by `parent` and `{KEY}` by the point's value of KEY.
    public static func fill(_ template: String, parent: String, point: Point) -> String {
        var text = template.replacingOccurrences(of: "{parent}", with: parent)
        for (key, value) in point.assignments { text = text.replacingOccurrences(of: "{\(key)}", with: value) }
        return text
    }
}

/// The tags that tie a run to its sweep.
public enum SweepTags {
    /// The sweep's id.
    public static let sweep = "sweep"
    /// The grid point, from 1.
    public static let point = "sweep.point"
    /// The stage: 1 (the recipe) or 2 (`--then`).
    public static let stage = "sweep.stage"
}
