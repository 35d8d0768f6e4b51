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
    /// One varied key and its values, as given on the command line; or several keys
    /// varied together (a zipped axis): `key` `(K1,K2)` and each value `(V1,V2)`.
    public struct Axis: Codable, Equatable, Sendable {
        public var key: String
        public var values: [String]

        public init(key: String, values: [String]) {
            self.key = key
            self.values = values
        }

        /// The keys this axis sets: `[key]`, or the keys of a zipped axis.
        public var keys: [String] { SweepSpec.tuple(key) ?? [key] }

        /// The `(key, value)` pairs that `value` (one of ``values``) sets.
        public func assignments(of value: String) -> [(key: String, value: String)] {
            guard let keys = SweepSpec.tuple(key), let parts = SweepSpec.tuple(value) else { return [(key, value)] }
            return Array(zip(keys, parts)).map { (key: $0.0, value: $0.1) }
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
            combinations = combinations.flatMap { prefix in axis.values.map { prefix + axis.assignments(of: $0) } }
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

    /// `--grid KEY=V1,V2,...`: commas inside brackets, braces or parentheses (`[2,2,6,2]`) do not split.
    ///
    /// `--grid (K1,K2)=(A1,A2),(B1,B2)` varies several keys together (a zipped axis, for
    /// points that are not a full grid): one point sets K1=A1 and K2=A2, the next K1=B1 and K2=B2.
    ///
    /// ```swift
    /// let axis = try SweepSpec.axis(parsing: "(mask.mode,schedule.epochs)=(mix,10),(mask_token,11)")
    /// axis.keys                          // ["mask.mode", "schedule.epochs"]
    /// axis.assignments(of: axis.values[1]).map(\.value)   // ["mask_token", "11"]
    /// ```
    public static func axis(parsing argument: String) throws -> Axis {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw InputError(
                "--grid \(argument): not KEY=V1,V2,...", hint: "write e.g. --grid mask.mode=mix,mask_token")
        }
        let key = String(argument[..<equals])
        let values = splitTopLevel(argument[argument.index(after: equals)...])
        guard !values.contains(where: \.isEmpty) else {
            throw InputError("--grid \(argument): an empty value", hint: "write \(key)=V1,V2,... without empty items")
        }
        guard Set(values).count == values.count else {
            throw InputError("--grid \(argument): a value is listed twice", hint: "list each value of \(key) once")
        }
        guard key.hasPrefix("(") else { return Axis(key: key, values: values) }
        let zipHint = "write (K1,K2)=(A1,A2),(B1,B2): each value one parenthesised tuple with a value per key"
        guard let keys = tuple(key), keys.count >= 2, !keys.contains(where: \.isEmpty) else {
            throw InputError("--grid \(argument): the keys \(key) are not (K1,K2,...)", hint: zipHint)
        }
        guard Set(keys).count == keys.count else {
            throw InputError("--grid \(argument): a key is listed twice in \(key)", hint: zipHint)
        }
        for value in values {
            guard let parts = tuple(value), parts.count == keys.count, !parts.contains(where: \.isEmpty) else {
                throw InputError(
                    "--grid \(argument): the value \(value) is not a tuple of \(keys.count) values for \(key)",
                    hint: zipHint)
            }
        }
        return Axis(key: key, values: values)
    }

    /// The items of `(A,B,...)` (commas inside nested brackets do not split), or nil when
    /// `text` is not parenthesised.
    static func tuple(_ text: String) -> [String]? {
        guard text.count >= 2, text.hasPrefix("("), text.hasSuffix(")") else { return nil }
        return splitTopLevel(text.dropFirst().dropLast())
    }

    /// `text` split at the commas outside brackets, braces and parentheses, each item trimmed.
    static func splitTopLevel(_ text: Substring) -> [String] {
        var items: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "[", "{", "(": depth += 1
            case "]", "}", ")": depth -= 1
            default: break
            }
            if character == "," && depth == 0 {
                items.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        items.append(current)
        return items.map { $0.trimmingCharacters(in: .whitespaces) }
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
