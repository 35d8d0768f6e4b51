import MixKit

/// Checks what a plugin registered before the host accepts it: a component the
/// host cannot name in a recipe, or whose schema contradicts its own defaults,
/// is a plugin bug that would otherwise surface later as a confusing error.
///
/// ```swift
/// ComponentDescriptorCheck.problems(of: descriptor)  // ["parameter 'depths': default [2, 2] has 2 elements, count is 4"]
/// ```
public enum ComponentDescriptorCheck {
    /// Every problem found, as short phrases; empty when the descriptor is sound.
    public static func problems(of descriptor: ComponentDescriptor) -> [String] {
        var problems: [String] = []
        if !isValidID(descriptor.id) {
            problems.append(
                "the id '\(descriptor.id)' is not lowercase letters, digits, '-', '_' or '.', starting with a letter or digit"
            )
        }
        if descriptor.version.isEmpty { problems.append("the version is empty") }
        if descriptor.summary.isEmpty { problems.append("the summary is empty") }
        if descriptor.kind == .backbone && descriptor.capabilities == nil {
            problems.append("a backbone must declare its capabilities (feature maps, mixing support)")
        }
        var names = Set<String>()
        for spec in descriptor.parameters {
            if spec.name.isEmpty { problems.append("a parameter has an empty name") }
            if !names.insert(spec.name).inserted { problems.append("parameter '\(spec.name)' is declared twice") }
            problems += parameterProblems(spec).map { "parameter '\(spec.name)': \($0)" }
        }
        return problems
    }

    /// Lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    public static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, isLowerAlphanumeric(first) else { return false }
        return id.unicodeScalars.allSatisfy { isLowerAlphanumeric($0) || "-_.".unicodeScalars.contains($0) }
    }

    private static func isLowerAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("0"..."9").contains(c)
    }

    private static func parameterProblems(_ spec: ParameterSpec) -> [String] {
        var problems: [String] = []
        let numeric = [.int, .float, .intList, .floatList].contains(spec.type)
        let textual = [.string, .stringList].contains(spec.type)
        if spec.range != nil && !numeric { problems.append("a range is declared for type \(spec.type)") }
        if spec.allowedValues != nil && !textual {
            problems.append("allowed values are declared for type \(spec.type)")
        }
        if spec.count != nil && spec.type.elementType == nil {
            problems.append("a list length is declared for type \(spec.type)")
        }
        guard let value = spec.defaultValue else { return problems }
        let numbers: [Double]
        let strings: [String]
        switch (spec.type, value) {
        case (.int, .int(let v)): (numbers, strings) = ([Double(v)], [])
        case (.float, .float(let v)): (numbers, strings) = ([v], [])
        case (.float, .int(let v)): (numbers, strings) = ([Double(v)], [])
        case (.bool, .bool): (numbers, strings) = ([], [])
        case (.string, .string(let v)): (numbers, strings) = ([], [v])
        case (.intList, .intList(let v)): (numbers, strings) = (v.map(Double.init), [])
        case (.floatList, .floatList(let v)): (numbers, strings) = (v, [])
        case (.floatList, .intList(let v)): (numbers, strings) = (v.map(Double.init), [])
        case (.stringList, .stringList(let v)): (numbers, strings) = ([], v)
        default:
            return problems + ["the default \(value) is of type \(value.type), the parameter of type \(spec.type)"]
        }
        if let range = spec.range, let outside = numbers.first(where: { !range.contains($0) }) {
            problems.append(
                "the default \(value) is outside the declared range \(range.lowerBound)...\(range.upperBound) "
                    + "(\(outside))")
        }
        if let allowed = spec.allowedValues, let other = strings.first(where: { !allowed.contains($0) }) {
            problems.append("the default '\(other)' is not one of the allowed values \(allowed)")
        }
        if let count = spec.count, spec.type.elementType != nil, numbers.count + strings.count != count {
            problems.append(
                "the default \(value) has \(numbers.count + strings.count) elements, the length is \(count)")
        }
        return problems
    }
}
