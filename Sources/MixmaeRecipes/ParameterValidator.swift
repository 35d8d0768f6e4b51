import MixKit
import MixmaeSupport

/// Checks recipe values against a component's (or section's) typed schema.
///
/// It reports every problem, not just the first: unknown keys (with close
/// names), wrong types (an int is accepted for a float, but a float is never
/// accepted for an int, even `2.0`), out-of-range numbers, strings not among
/// the allowed values, lists of the wrong length, missing required keys.
/// Unset keys get their defaults.
///
/// ```swift
/// let result = ParameterValidator.validate(section, against: schema, at: "model.backbone")
/// if result.issues.isEmpty { build(result.parameters) }
/// ```
public enum ParameterValidator {
    /// The outcome: parameters with defaults filled in (keys with issues are
    /// left at their defaults or out), and every issue, in document order.
    public struct Result: Sendable {
        public var parameters: Parameters
        public var issues: [RecipeIssue]

        /// The parameters, or a ``RecipeValidationError`` with every issue.
        public func get() throws -> Parameters {
            if !issues.isEmpty { throw RecipeValidationError(issues: issues) }
            return parameters
        }
    }

    /// Validates the mapping `node` against `schema`.
    ///
    /// - Parameters:
    ///   - node: the section's mapping; nil when the recipe does not have the section
    ///     (then `absentMark` is where missing-key issues point).
    ///   - path: the section's key path, for messages (`model.backbone`).
    ///   - ignoring: keys that are not parameters (a component slot's `name`).
    ///   - label: how messages name the section (`backbone 'swin'`); defaults to the path.
    public static func validate(
        _ node: YAMLNode?, against schema: [ParameterSpec], at path: RecipePath,
        absentMark: SourceMark? = nil, ignoring: Set<String> = [], label: String? = nil
    ) -> Result {
        var parameters = Parameters(defaultsOf: schema)
        var issues: [RecipeIssue] = []
        let label = label ?? (path.isRoot ? "the recipe" : "'\(path)'")
        let mark = node?.mark ?? absentMark ?? SourceMark(file: "<recipe>", line: 1, column: 1)
        var mapping = YAMLMapping()
        if let node {
            switch node.content {
            case .mapping(let m): mapping = m
            case .null: break
            default:
                issues.append(
                    RecipeIssue(
                        .wrongType, at: node.mark, path: path,
                        message: "expected a mapping of parameters, found \(node.kindDescription)"))
                return Result(parameters: parameters, issues: issues)
            }
        }
        let names = schema.map(\.name)
        for entry in mapping.entries where !ignoring.contains(entry.key) {
            let keyPath = path.appending(entry.key)
            guard let spec = schema.first(where: { $0.name == entry.key }) else {
                issues.append(unknownKey(entry, path: keyPath, known: names, in: label))
                continue
            }
            switch check(entry.value, against: spec, at: keyPath) {
            case .success(let value): parameters[spec.name] = value
            case .failure(let found): issues += found.issues
            }
        }
        for spec in schema where spec.isRequired && mapping[spec.name] == nil {
            issues.append(
                RecipeIssue(
                    .missingKey, at: mark, path: path.appending(spec.name),
                    message: "missing required key '\(spec.name)' (\(spec.type)) in \(label): \(spec.doc)"
                ))
        }
        return Result(parameters: parameters, issues: issues)
    }

    static func unknownKey(
        _ entry: YAMLMapping.Entry, path: RecipePath, known: [String], in label: String,
        kind: RecipeIssue.Kind = .unknownKey, noun: String = "key"
    ) -> RecipeIssue {
        let close = Suggestions.closest(to: entry.key, among: known)
        let hint =
            close.isEmpty
            ? (known.isEmpty
                ? "; \(label) takes no \(noun)s" : "; valid \(noun)s: " + known.joined(separator: ", "))
            : Suggestions.didYouMean(close)
        return RecipeIssue(
            kind, at: entry.keyMark, path: path, message: "unknown \(noun) in \(label)\(hint)",
            suggestions: close)
    }

    struct Issues: Error {
        var issues: [RecipeIssue]
    }

    /// One value against one spec.
    static func check(_ node: YAMLNode, against spec: ParameterSpec, at path: RecipePath)
        -> Swift.Result<ParameterValue, Issues>
    {
        guard let elementType = spec.type.elementType else {
            return checkScalar(node, spec: spec, type: spec.type, at: path)
                .map { $0 }.mapError { Issues(issues: [$0]) }
        }
        guard case .sequence(let items) = node.content else {
            return .failure(
                Issues(issues: [
                    RecipeIssue(
                        .wrongType, at: node.mark, path: path,
                        message: "expected \(spec.type), found \(node.kindDescription)")
                ]))
        }
        var issues: [RecipeIssue] = []
        if let count = spec.count, items.count != count {
            issues.append(
                RecipeIssue(
                    .wrongCount, at: node.mark, path: path,
                    message: "expected a list of \(count) element\(count == 1 ? "" : "s"), "
                        + "found \(items.count)"))
        }
        var values: [ParameterValue] = []
        for (i, item) in items.enumerated() {
            switch checkScalar(item, spec: spec, type: elementType, at: path.appending(index: i)) {
            case .success(let value): values.append(value)
            case .failure(let issue): issues.append(issue)
            }
        }
        if !issues.isEmpty { return .failure(Issues(issues: issues)) }
        switch spec.type {
        case .intList:
            return .success(.intList(values.compactMap { if case .int(let v) = $0 { v } else { nil } }))
        case .floatList:
            return .success(.floatList(values.compactMap { if case .float(let v) = $0 { v } else { nil } }))
        default:
            return .success(
                .stringList(values.compactMap { if case .string(let v) = $0 { v } else { nil } }))
        }
    }

    private static func checkScalar(
        _ node: YAMLNode, spec: ParameterSpec, type: ParameterType, at path: RecipePath
    ) -> Swift.Result<ParameterValue, RecipeIssue> {
        func wrongType(_ hint: String = "") -> Swift.Result<ParameterValue, RecipeIssue> {
            .failure(
                RecipeIssue(
                    .wrongType, at: node.mark, path: path,
                    message: "expected \(type), found \(node.kindDescription)\(hint)"))
        }
        guard let scalar = node.scalar else {
            guard case .null = node.content else { return wrongType() }
            return wrongType(
                type == .string
                    ? " (the value is empty; an empty string is written \"\", on the command line --set '\(path)=\"\"')"
                    : " (the value is empty: write one)")
        }
        let value = scalar.value
        let quotedNumber =
            !scalar.isPlain
            && ScalarValue.resolve(plain: scalar.text).map { if case .string = $0 { false } else { true } } == true
        let quoteHint = quotedNumber ? " (remove the quotes to write a number or bool)" : ""
        switch (type, value) {
        case (.int, .int(let v)):
            return inRange(Double(v), node: node, spec: spec, at: path).map { .int(v) }
        case (.int, .float(let v)) where v.rounded() == v && v.isFinite:
            return wrongType(" (an int is written without a decimal point: \(Int(exactly: v).map(String.init) ?? "…"))")
        case (.float, .int(let v)):
            return inRange(Double(v), node: node, spec: spec, at: path).map { .float(Double(v)) }
        case (.float, .float(let v)):
            return inRange(v, node: node, spec: spec, at: path).map { .float(v) }
        case (.bool, .bool(let v)):
            return .success(.bool(v))
        case (.string, .string(let v)):
            if let allowed = spec.allowedValues, !allowed.contains(v) {
                let close = Suggestions.closest(to: v, among: allowed)
                return .failure(
                    RecipeIssue(
                        .notAllowed, at: node.mark, path: path,
                        message: "'\(v)' is not an allowed value; allowed: "
                            + allowed.joined(separator: ", ") + Suggestions.didYouMean(close),
                        suggestions: close))
            }
            return .success(.string(v))
        case (.string, _):
            return wrongType(" (quote it to make it a string: \"\(scalar.text)\")")
        default:
            return wrongType(quoteHint)
        }
    }

    private static func inRange(
        _ v: Double, node: YAMLNode, spec: ParameterSpec, at path: RecipePath
    ) -> Swift.Result<Void, RecipeIssue> {
        guard let range = spec.range, !range.contains(v) else { return .success(()) }
        return .failure(
            RecipeIssue(
                .outOfRange, at: node.mark, path: path,
                message: "\(node.scalar?.text ?? String(v)) is out of range: expected \(rangeText(range))"
            ))
    }

    /// `a value in [1, 4096]`, `a value >= 0`, `a value <= 1`.
    static func rangeText(_ range: ClosedRange<Double>) -> String {
        func number(_ v: Double) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
        }
        switch (range.lowerBound.isInfinite, range.upperBound.isInfinite) {
        case (false, true): return "a value >= \(number(range.lowerBound))"
        case (true, false): return "a value <= \(number(range.upperBound))"
        case (true, true): return "any value"
        default: return "a value in [\(number(range.lowerBound)), \(number(range.upperBound))]"
        }
    }
}
