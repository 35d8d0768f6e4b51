/// A problem with evaluation input: which file, where in it, and what to do.
///
///     EvaluationError(file: "dets.json", path: "[3].bbox", message: "expected 4 numbers")
///     // prints: dets.json: [3].bbox: expected 4 numbers
public struct EvaluationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or a name for in-memory input) the problem is in.
    public let file: String
    /// The JSON path of the bad value (`annotations[12].bbox`), or empty.
    public let path: String
    public let message: String

    public init(file: String, path: String = "", message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}
