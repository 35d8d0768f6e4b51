import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn` in a process group of its own, its
/// standard output and error appended to a log file, its standard input
/// /dev/null. In its own group a Ctrl-C at the terminal reaches only the parent,
/// which then asks each child to stop exactly once (a second SIGINT would end a
/// training at once instead of at a step boundary). The child ends with SIGTERM when
/// this process exits, even by SIGKILL (``ParentDeath``).
///
/// ```swift
/// let child = try SpawnedProcess("/usr/bin/mixmae", ["train", "r.yaml"], log: "point-1.log")
/// while child.poll() == nil { usleep(100_000) }
/// ```
final class SpawnedProcess {
    /// How a child ended.
    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)

        /// The status a shell would show (128 + signal for a signal).
        var status: Int32 {
            switch self {
            case .exited(let code): return code
            case .signalled(let signal): return 128 + signal
            }
        }
    }

    let pid: pid_t
    private(set) var ending: Ending?

    init(_ executable: String, _ arguments: [String], log: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environment: [UnsafeMutablePointer<CChar>?] =
            ParentDeath.environment(for: getpid()).map { strdup($0) } + [nil]
        defer { for pointer in environment { free(pointer) } }
        var child = pid_t()
        let code = posix_spawn(&child, executable, &actions, &attributes, argv, environment)
        guard code == 0 else {
            throw SweepError(what: "cannot start \(executable): \(String(cString: strerror(code)))")
        }
        pid = child
    }

    /// How the child ended, or nil while it runs (never blocks).
    func poll() -> Ending? {
        if let ending { return ending }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        let signal = status & 0x7f
        ending = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        return ending
    }

    /// Sends `signal` to the child.
    func send(_ signal: Int32) { kill(pid, signal) }
}
