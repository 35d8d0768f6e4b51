/// The type of a plain YAML scalar, resolved as the YAML 1.2 core schema does.
///
/// - `true`/`True`/`TRUE`, `false`/... are bools.
/// - `null`/`Null`/`NULL`, `~` and the empty scalar are null (``resolve(plain:)`` returns nil).
/// - `42`, `-7`, `+3`, `1_000` (underscores between digits), `0x1F`, `0o17` are ints.
///   An integer too large for `Int` is a float.
/// - `1.5`, `1e-3`, `1.5e-4`, `.5`, `.inf`, `-.inf`, `.nan` are floats.
/// - Anything else is a string. Quoted scalars never reach this: they are strings.
///
/// ```swift
/// ScalarValue.resolve(plain: "1.5e-4")  // .float(0.00015)
/// ScalarValue.resolve(plain: "swin")    // .string("swin")
/// ```
public enum ScalarValue: Sendable, Equatable {
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)

    /// Plain texts that mean null.
    public static func isNull(plain text: String) -> Bool {
        ["", "~", "null", "Null", "NULL"].contains(text)
    }

    /// The typed value of a plain scalar, or nil if it means null.
    public static func resolve(plain text: String) -> ScalarValue? {
        if isNull(plain: text) { return nil }
        switch text {
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let number = resolveNumber(text) { return number }
        return .string(text)
    }

    private static func resolveNumber(_ text: String) -> ScalarValue? {
        var body = Substring(text)
        var negative = false
        if let first = body.first, first == "-" || first == "+" {
            negative = first == "-"
            body = body.dropFirst()
        }
        switch body {
        case ".inf", ".Inf", ".INF": return .float(negative ? -.infinity : .infinity)
        case ".nan", ".NaN", ".NAN": return text.count == body.count ? .float(.nan) : nil
        default: break
        }
        if text.count == body.count, body.hasPrefix("0x") || body.hasPrefix("0o") {
            let radix = body.hasPrefix("0x") ? 16 : 8
            return Int(body.dropFirst(2), radix: radix).map { .int($0) }
        }
        if let digits = decimalDigits(body) {
            if let value = Int(digits) { return .int(negative ? -value : value) }
            return Double(digits).map { .float(negative ? -$0 : $0) }
        }
        if isCoreFloat(body), let value = Double(body) {
            return .float(negative ? -value : value)
        }
        return nil
    }

    /// The digits of a decimal integer (`1_000` gives `1000`), or nil if `body` is not one.
    private static func decimalDigits(_ body: Substring) -> String? {
        guard let first = body.first, first.isASCIIDigit, let last = body.last, last.isASCIIDigit
        else { return nil }
        var digits = ""
        var previousWasUnderscore = false
        for c in body {
            if c == "_" {
                if previousWasUnderscore { return nil }
                previousWasUnderscore = true
            } else if c.isASCIIDigit {
                digits.append(c)
                previousWasUnderscore = false
            } else {
                return nil
            }
        }
        return digits
    }

    /// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
    private static func isCoreFloat(_ body: Substring) -> Bool {
        var rest = body[...]
        let integerDigits = rest.prefix(while: \.isASCIIDigit)
        rest = rest.dropFirst(integerDigits.count)
        var fractionDigits = 0
        if rest.first == "." {
            rest = rest.dropFirst()
            let fraction = rest.prefix(while: \.isASCIIDigit)
            fractionDigits = fraction.count
            rest = rest.dropFirst(fraction.count)
        }
        if integerDigits.isEmpty && fractionDigits == 0 { return false }
        if let e = rest.first, e == "e" || e == "E" {
            rest = rest.dropFirst()
            if let sign = rest.first, sign == "-" || sign == "+" { rest = rest.dropFirst() }
            let exponent = rest.prefix(while: \.isASCIIDigit)
            if exponent.isEmpty { return false }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
