import Foundation
import MixmaeSupport

/// `runs/<id>/metrics.jsonl`: every metric a run logged, one JSON object a line, appended
/// next to the database rows so that `mixmae runs recover` can bring the metrics back
/// when the registry database is lost.
///
/// A line is `{"name":"loss","step":20,"time":1733140000.25,"value":0.71}`; `value` is
/// `null` for NaN (as in the database) and `time` is seconds since 1970. A line cut short
/// by a crash (the last one) is skipped when reading.
///
/// ```swift
/// let log = RunMetricsLog(folder: registry.outputDirectory(ofRun: 3))
/// try log.append([MetricSample(step: 20, name: "loss", value: 0.71)])
/// let samples = try log.read()      // [MetricSample], in the order they were logged
/// ```
public struct RunMetricsLog {
    /// The file's name inside a run folder.
    public static let fileName = "metrics.jsonl"

    public let url: URL

    public init(folder: URL) { url = folder.appendingPathComponent(Self.fileName) }

    private struct Line: Codable {
        var name: String
        var step: Int64
        var time: Double
        var value: Double?
    }

    /// Appends `samples` to the file (created when missing) with one write.
    public func append(_ samples: [MetricSample]) throws {
        guard !samples.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes = Data()
        for sample in samples {
            let line = Line(
                name: sample.name, step: sample.step, time: sample.time.timeIntervalSince1970,
                value: sample.value.isNaN ? nil : sample.value)
            bytes.append(try encoder.encode(line))
            bytes.append(0x0A)
        }
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw InputError(
                file: url.path,
                problem: "cannot open the run's metrics log for appending (\(String(cString: strerror(errno)))); "
                    + "check that the run folder exists and is writable")
        }
        defer { close(descriptor) }
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else {
                    throw InputError(
                        file: url.path,
                        problem: "cannot append to the run's metrics log (\(String(cString: strerror(errno)))); "
                            + "check the free space of the disk")
                }
                offset += written
            }
        }
    }

    /// The samples in the file (none when there is no file). A line that does not parse
    /// is an error naming it, except a last line without its newline (cut by a crash),
    /// which is skipped.
    public func read() throws -> [MetricSample] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        let decoder = JSONDecoder()
        var samples: [MetricSample] = []
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() where !line.isEmpty {
            do {
                let decoded = try decoder.decode(Line.self, from: Data(line))
                samples.append(
                    MetricSample(
                        step: decoded.step, name: decoded.name, value: decoded.value ?? .nan,
                        time: Date(timeIntervalSince1970: decoded.time)))
            } catch {
                if index == lines.count - 1 { break }
                throw InputError(
                    file: "\(url.path):\(index + 1)",
                    problem: "not a metric line (\(error)); remove the line or the file to recover without it")
            }
        }
        return samples
    }
}
