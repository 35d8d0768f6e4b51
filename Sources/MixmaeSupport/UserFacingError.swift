/// An error a user can hit: what went wrong, where, what to do about it, and the exit
/// status it ends the process with. `mixmae` prints every such error as its ``report``
/// and exits with its ``exitCode``; it never looks at the error's type or text.
///
/// ```swift
/// struct NoGPU: UserFacingError {
///     var what: String { "no GPU found" }
///     var hint: String? { "set MIXMAE_THREADS to use more CPU cores" }
/// }
/// print(NoGPU().report)   // error: no GPU found; set MIXMAE_THREADS to use more CPU cores
/// ```
public protocol UserFacingError: Error, CustomStringConvertible {
    /// What went wrong (`no run 12 in the registry`).
    var what: String { get }
    /// Where: a position in a file or on the command line, a file, a key path; nil for none.
    var location: ErrorLocation? { get }
    /// What to do about it, or nil when ``what`` says it.
    var hint: String? { get }
    /// Lines that follow the message: further problems found at once, a chain of files,
    /// candidates to choose from.
    var details: [String] { get }
    /// The process exit status: ``ExitStatus/failure`` unless the error says otherwise.
    var exitCode: Int32 { get }
}

extension UserFacingError {
    public var location: ErrorLocation? { nil }
    public var hint: String? { nil }
    public var details: [String] { [] }
    public var exitCode: Int32 { ExitStatus.failure }

    /// `[file:line:column: ]error: [key.path: ]what[; hint]` and the detail lines: what the
    /// command line prints.
    public var report: String {
        if case .source = location { return description }
        return "error: " + description
    }

    /// The message without the leading `error: ` of an error that has no file position:
    /// `[file: ][key.path: ]what[; hint]`, `file:line:column: error: [key.path: ]what[; hint]`
    /// for one that has; then the detail lines.
    public var description: String {
        var text: String
        switch location {
        case .source(let mark, let keyPath)?: text = "\(mark): error: " + (keyPath.map { "\($0): " } ?? "")
        case .file(let path, let keyPath)?: text = "\(path): " + (keyPath.map { "\($0): " } ?? "")
        case .keyPath(let keyPath)?: text = "\(keyPath): "
        case nil: text = ""
        }
        text += what
        if let hint { text += "; " + hint }
        return ([text] + details).joined(separator: "\n")
    }
}

/// Where a problem is.
public enum ErrorLocation: Sendable, Equatable {
    /// A position in a file or a `--set` argument (`recipes/a.yaml:4:7`), and the key path
    /// of the value there, if it has one.
    case source(SourceMark, keyPath: String? = nil)
    /// A file or folder, and the key path inside it (`[3].bbox` of a JSON file), if any.
    case file(String, keyPath: String? = nil)
    /// A key of a recipe or configuration, without a file position.
    case keyPath(String)
}

/// The exit statuses of `mixmae`, documented in the README.
public enum ExitStatus {
    /// Everything worked.
    public static let success: Int32 = 0
    /// Something went wrong; the message says what.
    public static let failure: Int32 = 1
    /// The command line is wrong (an unknown option, a missing argument, a bad value).
    public static let usage: Int32 = 2

    /// Stopped by `signal` after saving (130 for SIGINT, 143 for SIGTERM), as shells report it.
    public static func interrupted(by signal: Int32) -> Int32 { 128 + signal }
}

/// A problem with something the user gave: a file, a value, a name. It says what, where
/// (a file, and a key path inside it) and, when the message does not, what to do.
///
/// ```swift
/// throw InputError("expected 4 numbers", file: "dets.json", keyPath: "[3].bbox")
/// // prints: error: dets.json: [3].bbox: expected 4 numbers
/// ```
public struct InputError: UserFacingError, Equatable, Sendable {
    public var what: String
    /// The file or folder at fault, if the problem is in one.
    public var file: String?
    /// The key path of the bad value (`annotations[12].bbox`, `data.root`), if any.
    public var keyPath: String?
    public var hint: String?

    public init(_ what: String, file: String? = nil, keyPath: String? = nil, hint: String? = nil) {
        self.what = what
        self.file = file
        self.keyPath = keyPath
        self.hint = hint
    }

    /// A problem with a file or folder (or with the value at `keyPath` inside it).
    public init(file: String, keyPath: String? = nil, problem: String, hint: String? = nil) {
        self.init(problem, file: file, keyPath: keyPath, hint: hint)
    }

    /// A problem with the value of an option or key.
    public init(keyPath: String, problem: String, hint: String? = nil) {
        self.init(problem, keyPath: keyPath, hint: hint)
    }

    public var location: ErrorLocation? {
        if let file { return .file(file, keyPath: keyPath) }
        return keyPath.map { .keyPath($0) }
    }
}
