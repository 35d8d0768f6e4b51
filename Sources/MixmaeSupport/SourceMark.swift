/// Where a YAML node was written: a file position, or a `--set` argument.
///
/// Lines and columns are 1-based. A mark prints as `path:line:column` for a
/// file and as `--set[2] optim.lr=1e-3` for the second `--set` argument.
///
/// ```swift
/// let mark = SourceMark(file: "recipes/base/pretrain.yaml", line: 4, column: 7)
/// print(mark)  // recipes/base/pretrain.yaml:4:7
/// ```
public struct SourceMark: Hashable, Sendable, CustomStringConvertible {
    /// The text a node came from.
    public enum Origin: Hashable, Sendable {
        /// A YAML file, by the path it was opened with.
        case file(String)
        /// The `index`-th (1-based) `--set` argument, whose text is `argument`
        /// (`optim.lr=1e-3`); line and column are within that text.
        case override(index: Int, argument: String)
    }

    public var origin: Origin
    public var line: Int
    public var column: Int

    public init(origin: Origin, line: Int, column: Int) {
        self.origin = origin
        self.line = line
        self.column = column
    }

    public init(file: String, line: Int, column: Int) {
        self.init(origin: .file(file), line: line, column: column)
    }

    /// The file path, or nil for a mark on the command line.
    public var file: String? {
        if case .file(let path) = origin { return path }
        return nil
    }

    public var description: String {
        switch origin {
        case .file(let path): return "\(path):\(line):\(column)"
        case .override(let index, let argument): return "--set[\(index)] \(argument)"
        }
    }
}
