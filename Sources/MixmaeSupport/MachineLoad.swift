import Foundation

/// The machine's 1-minute load average, printed beside every benchmark:
/// other processes sharing the cores lower every number measured.
///
/// ```swift
/// print("load: \(MachineLoad.describe(MachineLoad.oneMinuteAverage()))")
/// ```
public enum MachineLoad {
    /// The first field of `/proc/loadavg`, or nil where it cannot be read.
    public static func oneMinuteAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
            let first = text.split(separator: " ").first
        else { return nil }
        return Double(first)
    }

    /// `load` with two decimals, or "unknown".
    public static func describe(_ load: Double?) -> String {
        load.map { String(format: "%.2f", $0) } ?? "unknown"
    }
}
