import Foundation

/// What a finished child process printed, and how it ended.
public struct ProcessResult: Sendable {
    /// The exit status, or the signal number when ``signalled``.
    public var status: Int32
    /// True when an uncaught signal ended the process.
    public var signalled: Bool
    public var stdout: String
    public var stderr: String
}

/// A program running in a child process for a test: both output pipes are read on
/// background threads (so a chatty child never blocks), the child can be sent signals,
/// and waiting has a deadline.
///
/// ```swift
/// let child = try ChildProcess(TestPaths.mixmae, ["train", "pretrain.yaml"], in: folder.path)
/// _ = waitUntil(timeout: 60) { child.standardErrorSoFar.contains("epoch 1/") }
/// child.send(SIGINT)
/// let result = try child.wait(timeout: 60)   // result.status == 130
/// ```
public final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let output = Collector()
    private let errors = Collector()

    /// Starts `path` with `arguments` in `directory`; `environment` is added to this process's.
    public init(
        _ path: String, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
    ) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        output.drain(out.fileHandleForReading)
        errors.drain(err.fileHandleForReading)
    }

    /// The child's process id.
    public var pid: Int32 { process.processIdentifier }

    public var isRunning: Bool { process.isRunning }

    /// What the child has written to standard output so far.
    public var standardOutputSoFar: String { output.text }

    /// What the child has written to standard error so far.
    public var standardErrorSoFar: String { errors.text }

    /// Sends `signal` (SIGINT, SIGTERM, SIGKILL, ...) to the child.
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the child to exit and returns what it printed. After `timeout` seconds it
    /// is killed and the wait throws, so a hung child fails the test instead of hanging it.
    @discardableResult
    public func wait(timeout: TimeInterval = 3600) throws -> ProcessResult {
        let exited = waitUntil(timeout: timeout) { !process.isRunning }
        if !exited { send(SIGKILL) }
        process.waitUntilExit()
        let result = ProcessResult(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
            stdout: output.finish(), stderr: errors.finish())
        guard exited else {
            throw TestSetupError(
                "\(process.executableURL?.path ?? "the child") did not exit within \(timeout) s and was killed; "
                    + "it printed:\n\(result.stdout)\(result.stderr)")
        }
        return result
    }

    /// Collects one pipe's bytes on a background thread.
    private final class Collector: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        func drain(_ handle: FileHandle) {
            Thread {
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    self.lock.lock()
                    self.data.append(chunk)
                    self.lock.unlock()
                }
                self.done.signal()
            }.start()
        }

        var text: String {
            lock.lock()
            defer { lock.unlock() }
            return String(decoding: data, as: UTF8.self)
        }

        /// Waits for the end of the pipe and returns everything read.
        func finish() -> String {
            done.wait()
            done.signal()
            return text
        }
    }
}

/// Runs a program in a child process and waits for it (see ``ChildProcess``).
public func runProgram(
    _ path: String, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
    timeout: TimeInterval = 3600
) throws -> ProcessResult {
    try ChildProcess(path, arguments, in: directory, environment: environment).wait(timeout: timeout)
}

/// The built `mixmae` (``TestPaths/mixmae``), or an error saying how to build it when it is missing.
///
/// ```swift
/// let mixmae = try builtMixmae()
/// let child = try ChildProcess("/usr/bin/env", ["MIXMAE_THREADS=1", mixmae, "--version"])
/// ```
public func builtMixmae() throws -> String {
    guard FileManager.default.isExecutableFile(atPath: TestPaths.mixmae) else {
        throw TestSetupError(
            "no mixmae executable at \(TestPaths.mixmae); build it with `swift build -c release` or set MIXMAE_BIN")
    }
    return TestPaths.mixmae
}

/// Starts the built `mixmae` in a child process.
public func startMixmae(
    _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
) throws -> ChildProcess {
    try ChildProcess(builtMixmae(), arguments, in: directory, environment: environment)
}

/// Runs the built `mixmae` in a child process and waits for it.
public func runMixmae(
    _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
    timeout: TimeInterval = 3600
) throws -> ProcessResult {
    try startMixmae(arguments, in: directory, environment: environment).wait(timeout: timeout)
}
