import Foundation

/// Who a run's process is: host, pid, and when the process started (so a reused pid is
/// not mistaken for the original process).
public struct ProcessIdentity: Equatable {
    public let host: String
    public let pid: Int32
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22); nil if unknown.
    public let startTicks: Int64?

    /// This process.
    public static var current: ProcessIdentity {
        let pid = getpid()
        return ProcessIdentity(host: hostName(), pid: pid, startTicks: startTicks(of: pid))
    }

    public init(host: String, pid: Int32, startTicks: Int64?) {
        self.host = host
        self.pid = pid
        self.startTicks = startTicks
    }

    /// This machine's host name.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(cString: buffer)
    }

    /// The start time of process `pid` in clock ticks since boot, or nil when it is not
    /// running or /proc cannot tell.
    public static func startTicks(of pid: Int32) -> Int64? {
        procStat(of: pid)?.startTicks
    }

    /// State letter (`R`, `S`, `Z`, ...) and start time of `pid` from `/proc/PID/stat`.
    static func procStat(of pid: Int32) -> (state: Character, startTicks: Int64)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name (which may contain spaces) start at field 3 (state).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let startTimeField = 22 - 3
        guard fields.count > startTimeField, let state = fields[0].first,
            let ticks = Int64(fields[startTimeField])
        else { return nil }
        return (state, ticks)
    }

    /// Whether this process is still alive, judged from this host.
    ///
    /// On this host: `kill(pid, 0)` says whether the pid exists (EPERM means it exists but
    /// belongs to another user), and the start time must match the recorded one, so a
    /// reused pid counts as gone. On another host the pid cannot be checked, so the process
    /// counts as alive while its heartbeat is younger than `staleAfter`.
    public func isAlive(heartbeat: Date, staleAfter: TimeInterval, now: Date = Date()) -> Bool {
        guard host == ProcessIdentity.hostName() else {
            return now.timeIntervalSince(heartbeat) < staleAfter
        }
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        if let stat = ProcessIdentity.procStat(of: pid) {
            // A zombie has exited and only waits for its parent to collect it.
            if stat.state == "Z" || stat.state == "X" { return false }
            if let recorded = startTicks, recorded != stat.startTicks { return false }
        }
        return true
    }
}
