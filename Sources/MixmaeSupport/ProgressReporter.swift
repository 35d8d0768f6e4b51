import Foundation

/// Progress of a long loop: one line rewritten in place on a terminal, plain
/// lines at a steady interval otherwise (logs, CI).
///
/// ```swift
/// let progress = ProgressReporter(total: 1000, label: "pretrain")
/// progress.update(done: 10, fields: ["loss": "0.912", "lr": "1.2e-4"])
/// progress.finish()
/// ```
public final class ProgressReporter {
    public let total: Int
    public let label: String
    private let interactive: Bool
    private let start = Date()
    private var lastPrint = Date.distantPast
    private let plainInterval: TimeInterval
    private var lastLineLength = 0
    private let output: FileHandle

    public init(total: Int, label: String, plainInterval: TimeInterval = 10, output: FileHandle = .standardError) {
        self.total = total
        self.label = label
        self.plainInterval = plainInterval
        self.output = output
        self.interactive =
            isatty(output.fileDescriptor) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Reports `done` of ``total`` units with extra fields (printed in order).
    public func update(done: Int, fields: KeyValuePairs<String, String>, force: Bool = false) {
        let now = Date()
        if !force {
            if interactive && now.timeIntervalSince(lastPrint) < 0.2 { return }
            if !interactive && now.timeIntervalSince(lastPrint) < plainInterval && done < total { return }
        }
        lastPrint = now
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(max(total - done, 0)) : 0
        var parts = ["\(label) \(done)/\(total)"]
        parts += fields.map { "\($0.key) \($0.value)" }
        parts.append("elapsed \(formatDuration(elapsed))")
        if done < total { parts.append("eta \(formatDuration(eta))") }
        let line = parts.joined(separator: "  ")
        if interactive {
            let pad = max(0, lastLineLength - line.count)
            write("\r" + line + String(repeating: " ", count: pad))
            lastLineLength = line.count
        } else {
            write(line + "\n")
        }
    }

    /// Ends the in-place line (a no-op for plain output).
    public func finish() {
        if interactive && lastLineLength > 0 { write("\n") }
        lastLineLength = 0
    }

    /// Prints a message on its own line without disturbing the progress line.
    public func message(_ text: String) {
        if interactive && lastLineLength > 0 {
            write("\r" + String(repeating: " ", count: lastLineLength) + "\r")
            lastLineLength = 0
        }
        write(text + "\n")
    }

    private func write(_ text: String) {
        output.write(Data(text.utf8))
    }
}

/// A duration for people: `45s`, `12m37s` (75 s -> `1m15s`), `3h02m`, `2d04h`.
public func formatDuration(_ seconds: Double) -> String {
    let total = max(0, Int(seconds.rounded()))
    let days = total / 86_400
    let hours = total % 86_400 / 3600
    let minutes = total % 3600 / 60
    let secs = total % 60
    if days > 0 { return "\(days)d" + String(format: "%02dh", hours) }
    if hours > 0 { return "\(hours)h" + String(format: "%02dm", minutes) }
    if minutes > 0 { return "\(minutes)m" + String(format: "%02ds", secs) }
    return "\(secs)s"
}
