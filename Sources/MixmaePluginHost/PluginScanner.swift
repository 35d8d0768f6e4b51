import Foundation
import MixmaeSupport

#if canImport(Glibc)
    import Glibc
#endif

/// How loading a plugin library went in the scanner process.
public enum PluginScanVerdict: Sendable, Equatable, Codable {
    /// The scanner loaded it and exited normally: the host may map it (its
    /// own checks then accept or refuse it as usual).
    case loadable
    /// A signal ended the scanner while it loaded the library (SIGBUS for a
    /// truncated file, SIGSEGV or SIGILL for a crash in its initialiser or
    /// register function).
    case crashed(signal: Int32)
    /// The scanner did not finish within the timeout and was killed.
    case hung(seconds: Double)
    /// The scanner ended some other way (the library called `exit`, say),
    /// with the exit status and the end of what it printed.
    case failed(status: Int32, output: String)
}

/// Checks plugin libraries out of process before the host maps them, as
/// GStreamer's plugin scanner does: `mixmae-plugin-scanner LIBRARY` loads the
/// library in a child process (dlopen, ABI stamp, register); a library that
/// kills or hangs the child is refused with the signal or the timeout, and
/// the host never maps it. Verdicts are remembered in a ``PluginScanCache``
/// keyed by the library's path, size, modification time and SHA-256 (and the
/// scanner's own identity), so only a new or changed library is scanned again
/// and a command pays a stat and a hash per library otherwise.
///
/// ```swift
/// let scanner = PluginScanner.standard()
/// if case .crashed(let signal) = scanner.verdict(for: "/opt/libBroken.so").verdict { print(signal) }
/// scanner.saveCache()
/// ```
public final class PluginScanner {
    /// What standard output of a scanner that loaded a library starts with.
    public static let outputPrefix = "mixmae-plugin-scan:"
    /// The file name of the scanner executable, next to `mixmae`.
    public static let executableName = "mixmae-plugin-scanner"
    /// The environment variable naming another scanner executable.
    public static let executableVariable = "MIXMAE_PLUGIN_SCANNER"
    /// The environment variable with the timeout in seconds (default 5).
    public static let timeoutVariable = "MIXMAE_PLUGIN_SCAN_TIMEOUT"
    /// The default timeout in seconds.
    public static let defaultTimeout = 5.0

    /// One verdict and whether it came from the cache.
    public struct Result: Sendable, Equatable {
        public var verdict: PluginScanVerdict
        /// True when the verdict was remembered from an earlier scan of the same file.
        public var cached: Bool
        /// How long the scan took (0 when cached).
        public var seconds: Double
    }

    /// The scanner executable.
    public let executable: String
    /// Seconds a scan may take before the library counts as hung.
    public let timeout: Double
    /// Where verdicts are remembered; nil scans every time.
    public let cache: PluginScanCache?
    private let scannerIdentity: String

    public init(executable: String, timeout: Double = PluginScanner.defaultTimeout, cache: PluginScanCache?) {
        self.executable = executable
        self.timeout = timeout
        self.cache = cache
        self.scannerIdentity = PluginScanner.identity(of: executable) ?? "missing"
    }

    /// The scanner the commands use: `$MIXMAE_PLUGIN_SCANNER` or the
    /// `mixmae-plugin-scanner` next to the running executable, the timeout of
    /// `$MIXMAE_PLUGIN_SCAN_TIMEOUT`, and the cache in `$MIXMAE_HOME`
    /// (default `./.mixmae`). Nil when there is no scanner executable: the
    /// host then loads libraries without the out-of-process check.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> PluginScanner?
    {
        let executable =
            environment[executableVariable].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(executableName).path
        guard FileManager.default.isExecutableFile(atPath: executable) else { return nil }
        let timeout = environment[timeoutVariable].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil }
        return PluginScanner(
            executable: executable, timeout: timeout ?? defaultTimeout,
            cache: PluginScanCache(home: PluginScanCache.home(environment: environment)))
    }

    /// The verdict for the library at `path`: remembered when the file (and
    /// the scanner) did not change since it was scanned, else scanned now.
    public func verdict(for path: String) -> Result {
        let key = PluginScanCache.Key(path: path, scanner: scannerIdentity)
        if let key, let known = cache?.verdict(for: path, key: key) {
            return Result(verdict: known, cached: true, seconds: 0)
        }
        let start = Date()
        let verdict = scan(path)
        let seconds = Date().timeIntervalSince(start)
        if let key { cache?.remember(verdict, for: path, key: key) }
        return Result(verdict: verdict, cached: false, seconds: seconds)
    }

    /// Writes the cache if a scan added to it (errors are ignored: it is a cache).
    public func saveCache() { cache?.save() }

    /// Runs the scanner on `path` once, without the cache.
    public func scan(_ path: String) -> PluginScanVerdict {
        let output = ScannerOutput()
        guard let pid = spawn([executable, path], output: output) else {
            return .failed(status: -1, output: "cannot start \(executable): \(String(cString: strerror(errno)))")
        }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt32 = 1000
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { return .failed(status: -1, output: "waitpid failed") }
            if Date() >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return .hung(seconds: timeout)
            }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
        let signal = status & 0x7f
        if signal != 0 && signal != 0x7f { return .crashed(signal: signal) }
        let exitStatus = (status >> 8) & 0xff
        let printed = output.text()
        if exitStatus == 0 && printed.contains(PluginScanner.outputPrefix) { return .loadable }
        return .failed(status: exitStatus, output: String(printed.suffix(600)))
    }

    /// Starts `argv` with standard output and error going to `output`'s file,
    /// and Swift's crash backtracer off (it would spend seconds on a crash the
    /// host only needs the signal of).
    private func spawn(_ argv: [String], output: ScannerOutput) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if output.descriptor >= 0 {
            posix_spawn_file_actions_adddup2(&actions, output.descriptor, 1)
            posix_spawn_file_actions_adddup2(&actions, output.descriptor, 2)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        let cArguments = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, nil, cArguments, cEnvironment)
        guard result == 0 else {
            errno = result
            return nil
        }
        return pid
    }

    /// Size and modification time of the scanner executable: a rebuilt host
    /// scans every library again.
    static func identity(of executable: String) -> String? {
        var st = stat()
        guard stat(executable, &st) == 0 else { return nil }
        return "\(st.st_size)-\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }
}

/// A temporary file that collects what the scanner prints.
private final class ScannerOutput {
    let descriptor: CInt

    init() {
        var template = Array((NSTemporaryDirectory() + "/mixmae-plugin-scan-XXXXXX").utf8CString)
        descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if descriptor >= 0 { unlink(String(cString: template)) }
    }

    /// Everything written so far (at most 64 KiB).
    func text() -> String {
        guard descriptor >= 0 else { return "" }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    deinit { if descriptor >= 0 { close(descriptor) } }
}

extension PluginScanVerdict {
    /// A few words for `plugins list`.
    public var summary: String {
        switch self {
        case .loadable: return "loadable"
        case .crashed(let signal): return "crashed with \(SignalName.of(signal)) when loaded"
        case .hung(let seconds): return "hung when loaded (no answer in \(SignalName.seconds(seconds)) s)"
        case .failed(let status, _): return "scanner exited with status \(status) when loading it"
        }
    }
}

/// Names of the signals a crashing library raises.
enum SignalName {
    static func of(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGBUS: "SIGBUS", SIGSEGV: "SIGSEGV", SIGILL: "SIGILL", SIGABRT: "SIGABRT", SIGFPE: "SIGFPE",
            SIGTRAP: "SIGTRAP", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGSYS: "SIGSYS",
        ]
        return names[signal].map { "\($0) (signal \(signal))" } ?? "signal \(signal)"
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
