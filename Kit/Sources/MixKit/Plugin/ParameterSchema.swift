import Foundation

/// The type of one plugin parameter, as a recipe writes it.
public enum ParameterType: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case int
    case float
    case bool
    case string
    case intList = "list[int]"
    case floatList = "list[float]"
    case stringList = "list[string]"

    public var description: String { rawValue }

    /// The element type of a list type, or nil for a scalar type.
    public var elementType: ParameterType? {
        switch self {
        case .intList: return .int
        case .floatList: return .float
        case .stringList: return .string
        default: return nil
        }
    }
}

/// A typed parameter value after validation.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)
    case intList([Int])
    case floatList([Double])
    case stringList([String])

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .float(let v): return formatParameterFloat(v)
        case .bool(let v): return v ? "true" : "false"
        case .string(let v): return v
        case .intList(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .floatList(let v): return "[" + v.map(formatParameterFloat).joined(separator: ", ") + "]"
        case .stringList(let v): return "[" + v.joined(separator: ", ") + "]"
        }
    }

    /// The type this value has.
    public var type: ParameterType {
        switch self {
        case .int: return .int
        case .float: return .float
        case .bool: return .bool
        case .string: return .string
        case .intList: return .intList
        case .floatList: return .floatList
        case .stringList: return .stringList
        }
    }
}

func formatParameterFloat(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(format: "%.1f", v) }
    return String(v)
}

/// The declaration of one parameter in a plugin component's schema.
///
/// ```swift
/// ParameterSpec.int("embed_dim", default: 96, range: 1...4096, doc: "Channels of the first stage.")
/// ParameterSpec.intList("depths", default: [2, 2, 6, 2], range: 0...64, count: 4, doc: "Blocks per stage.")
/// ParameterSpec.string("norm", default: "ln", allowed: ["ln", "bn"], doc: "Normalisation layer.")
/// ```
public struct ParameterSpec: Sendable, Equatable {
    /// The key in the recipe section (snake_case, as the reference implementation names it).
    public var name: String
    public var type: ParameterType
    /// The default used when the recipe does not set the key; nil for a required parameter.
    public var defaultValue: ParameterValue?
    /// Inclusive numeric range; for lists it applies to every element.
    public var range: ClosedRange<Double>?
    /// The values a string (or each element of a string list) may take.
    public var allowedValues: [String]?
    /// The exact length a list must have, if any.
    public var count: Int?
    /// One or two sentences for `mixmae plugins inspect`.
    public var doc: String

    public var isRequired: Bool { defaultValue == nil }

    public init(
        name: String, type: ParameterType, defaultValue: ParameterValue?, range: ClosedRange<Double>? = nil,
        allowedValues: [String]? = nil, count: Int? = nil, doc: String
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.range = range
        self.allowedValues = allowedValues
        self.count = count
        self.doc = doc
    }

    public static func int(
        _ name: String, default value: Int?, range: ClosedRange<Double>? = nil, doc: String
    ) -> ParameterSpec {
        ParameterSpec(name: name, type: .int, defaultValue: value.map { .int($0) }, range: range, doc: doc)
    }

    public static func float(
        _ name: String, default value: Double?, range: ClosedRange<Double>? = nil, doc: String
    ) -> ParameterSpec {
        ParameterSpec(name: name, type: .float, defaultValue: value.map { .float($0) }, range: range, doc: doc)
    }

    public static func bool(_ name: String, default value: Bool?, doc: String) -> ParameterSpec {
        ParameterSpec(name: name, type: .bool, defaultValue: value.map { .bool($0) }, doc: doc)
    }

    public static func string(
        _ name: String, default value: String?, allowed: [String]? = nil, doc: String
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, type: .string, defaultValue: value.map { .string($0) }, allowedValues: allowed, doc: doc)
    }

    public static func intList(
        _ name: String, default value: [Int]?, range: ClosedRange<Double>? = nil, count: Int? = nil, doc: String
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, type: .intList, defaultValue: value.map { .intList($0) }, range: range, count: count,
            doc: doc)
    }

    public static func floatList(
        _ name: String, default value: [Double]?, range: ClosedRange<Double>? = nil, count: Int? = nil,
        doc: String
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, type: .floatList, defaultValue: value.map { .floatList($0) }, range: range, count: count,
            doc: doc)
    }

    public static func stringList(
        _ name: String, default value: [String]?, allowed: [String]? = nil, count: Int? = nil, doc: String
    ) -> ParameterSpec {
        ParameterSpec(
            name: name, type: .stringList, defaultValue: value.map { .stringList($0) }, allowedValues: allowed,
            count: count, doc: doc)
    }
}

/// Validated parameter values for one component, defaults filled in.
///
/// The host builds this from a recipe section after checking it against the
/// component's schema, so the accessors below only fail on a programming
/// error in the plugin (asking for a name it did not declare).
///
/// ```swift
/// let depths = params.intList("depths")
/// let dim = params.int("embed_dim")
/// ```
public struct Parameters: Sendable, Equatable {
    public private(set) var values: [String: ParameterValue]

    public init(_ values: [String: ParameterValue] = [:]) { self.values = values }

    /// Values from the schema's defaults only (what `plugins check` builds with).
    public init(defaultsOf schema: [ParameterSpec]) {
        var values: [String: ParameterValue] = [:]
        for spec in schema { if let v = spec.defaultValue { values[spec.name] = v } }
        self.values = values
    }

    public subscript(name: String) -> ParameterValue? {
        get { values[name] }
        set { values[name] = newValue }
    }

    public func int(_ name: String) -> Int {
        switch values[name] {
        case .int(let v): return v
        case .float(let v) where v == v.rounded(): return Int(v)
        default: preconditionFailure(missing(name, "int"))
        }
    }

    public func float(_ name: String) -> Double {
        switch values[name] {
        case .float(let v): return v
        case .int(let v): return Double(v)
        default: preconditionFailure(missing(name, "float"))
        }
    }

    public func bool(_ name: String) -> Bool {
        guard case .bool(let v) = values[name] else { preconditionFailure(missing(name, "bool")) }
        return v
    }

    public func string(_ name: String) -> String {
        guard case .string(let v) = values[name] else { preconditionFailure(missing(name, "string")) }
        return v
    }

    public func intList(_ name: String) -> [Int] {
        guard case .intList(let v) = values[name] else { preconditionFailure(missing(name, "list[int]")) }
        return v
    }

    public func floatList(_ name: String) -> [Double] {
        switch values[name] {
        case .floatList(let v): return v
        case .intList(let v): return v.map(Double.init)
        default: preconditionFailure(missing(name, "list[float]"))
        }
    }

    public func stringList(_ name: String) -> [String] {
        guard case .stringList(let v) = values[name] else { preconditionFailure(missing(name, "list[string]")) }
        return v
    }

    private func missing(_ name: String, _ type: String) -> String {
        "parameter '\(name)' of type \(type) was not declared in the component's schema or has another type"
    }
}
