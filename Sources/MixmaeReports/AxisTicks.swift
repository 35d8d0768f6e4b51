import Foundation

/// Tick positions and labels for a chart axis: round numbers that cover the data.
///
/// ```swift
/// let axis = AxisTicks.linear(from: 0.0173, to: 0.981)
/// axis.values        // [0, 0.2, 0.4, 0.6, 0.8, 1]
/// axis.labels        // ["0", "0.2", "0.4", "0.6", "0.8", "1"]
/// let lr = AxisTicks.logarithmic(from: 3e-6, to: 4e-4)
/// lr.labels          // ["1e-6", "1e-5", "1e-4", "1e-3"]
/// ```
public struct AxisTicks: Equatable {
    /// The axis range; it starts and ends on a tick.
    public let lower: Double
    public let upper: Double
    /// The tick values, ascending, from ``lower`` to ``upper``.
    public let values: [Double]
    /// One label per value.
    public let labels: [String]

    /// Ticks at 1, 2 or 5 times a power of ten, about `count` of them, covering `low...high`
    /// (Heckbert's "nice numbers"). An empty or degenerate range is widened around its value.
    public static func linear(from low: Double, to high: Double, count: Int = 6) -> AxisTicks {
        var (low, high) = (min(low, high), max(low, high))
        if !low.isFinite || !high.isFinite {
            (low, high) = (0, 1)
        }
        if high - low <= abs(high) * 1e-12 {
            let pad = low == 0 ? 1 : abs(low) * 0.1
            (low, high) = (low - pad, high + pad)
        }
        let span = nice(high - low, round: false)
        let step = nice(span / Double(max(count - 1, 1)), round: true)
        let first = (low / step).rounded(.down)
        let last = (high / step).rounded(.up)
        let decimals = max(0, -Int((log10(step)).rounded(.down)))
        let values = stride(from: first, through: last, by: 1).map { clean($0 * step, decimals: decimals) }
        return AxisTicks(
            lower: values.first!, upper: values.last!, values: values,
            labels: values.map { linearLabel($0, decimals: decimals, step: step) })
    }

    /// Ticks at powers of ten covering `low...high` (both must be positive), with 2 and 5
    /// times each power added when the range spans fewer than two decades.
    public static func logarithmic(from low: Double, to high: Double) -> AxisTicks {
        var (low, high) = (min(low, high), max(low, high))
        if !(low > 0) || !high.isFinite { (low, high) = (1, 10) }
        var bottom = Int(log10(low).rounded(.down))
        var top = Int(log10(high).rounded(.up))
        if top == bottom { top += 1 }
        if top - bottom > 12 { bottom = top - 12 }
        var values: [Double] = []
        let multipliers: [Double] = top - bottom <= 2 ? [1, 2, 5] : [1]
        for power in bottom...top {
            for multiplier in multipliers where power < top || multiplier == 1 {
                values.append(multiplier * pow(10, Double(power)))
            }
        }
        return AxisTicks(
            lower: values.first!, upper: values.last!, values: values, labels: values.map(logLabel))
    }

    /// The 1, 2, 5 or 10 times a power of ten closest to `value` (rounded) or at least
    /// `value` (not rounded).
    static func nice(_ value: Double, round: Bool) -> Double {
        let exponent = log10(value).rounded(.down)
        let fraction = value / pow(10, exponent)
        let niceFraction: Double
        if round {
            niceFraction = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            niceFraction = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return niceFraction * pow(10, exponent)
    }

    /// `value` rounded to `decimals` places, without a negative zero.
    private static func clean(_ value: Double, decimals: Int) -> Double {
        let scale = pow(10, Double(min(decimals, 15)))
        let rounded = (value * scale).rounded() / scale
        return rounded == 0 ? 0 : rounded
    }

    private static func linearLabel(_ value: Double, decimals: Int, step: Double) -> String {
        if value == 0 { return "0" }
        if abs(value) >= 1e6 || step < 1e-4 {
            return compactExponent(String(format: "%.\(significantDigits(value, step: step))e", value))
        }
        return String(format: "%.\(decimals)f", value)
    }

    /// Digits after the point needed in scientific notation to tell ticks `step` apart.
    private static func significantDigits(_ value: Double, step: Double) -> Int {
        max(0, Int(log10(abs(value)).rounded(.down)) - Int(log10(step).rounded(.down)))
    }

    private static func logLabel(_ value: Double) -> String {
        let power = log10(value).rounded(.down)
        let multiplier = (value / pow(10, power)).rounded()
        if power >= 0 && power <= 3 { return String(format: "%.0f", value) }
        if power == -1 || power == -2 { return String(format: "%.\(Int(-power))f", value) }
        return String(format: "%.0fe%.0f", multiplier, power)
    }

    /// `1.5e-05` -> `1.5e-5`, `2.0e+06` -> `2.0e6`.
    private static func compactExponent(_ text: String) -> String {
        guard let e = text.firstIndex(of: "e") else { return text }
        let mantissa = text[..<e]
        var exponent = String(text[text.index(after: e)...])
        let negative = exponent.hasPrefix("-")
        exponent = String(exponent.drop { $0 == "+" || $0 == "-" || $0 == "0" })
        return "\(mantissa)e\(negative ? "-" : "")\(exponent.isEmpty ? "0" : exponent)"
    }
}
