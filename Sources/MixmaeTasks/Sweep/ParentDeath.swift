import CHostSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Children of `mixmae sweep` end with it, however it ends (even SIGKILL, which it
/// cannot forward): ``SpawnedProcess`` puts the sweep's pid in the child's environment,
/// and the child, first thing in `main`, asks the kernel for a signal when its parent
/// exits (Linux `PR_SET_PDEATHSIG`, SIGUSR2, turned into one SIGTERM: the kernel repeats
/// it for each thread of the dying parent). A training then stops as at Ctrl-C: at a
/// step boundary, with a checkpoint (KILLED), and `mixmae sweep` run again resumes it.
///
/// ```swift
/// ParentDeath.adoptFromEnvironment()          // in main.swift, before anything else
/// ParentDeath.environment(for: getpid())      // what SpawnedProcess passes to a child
/// ```
public enum ParentDeath {
    /// The environment variable holding the pid of the parent whose death ends the child.
    public static let variable = "MIXMAE_DIE_WITH_PARENT"

    /// This process's environment (`KEY=VALUE`), with ``variable`` set to `parent`.
    static func environment(for parent: pid_t) -> [String] {
        var entries: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix(variable + "=") { entries.append(text) }
            cursor += 1
        }
        return entries + ["\(variable)=\(parent)"]
    }

    /// When ``variable`` is set, removes it (so this process's own children do not see
    /// it) and arranges one SIGTERM for when the parent it names exits; a parent already
    /// gone ends this process at once with SIGTERM.
    public static func adoptFromEnvironment() {
        guard let value = getenv(variable) else { return }
        let parent = Int32(String(cString: value))
        unsetenv(variable)
        guard let parent, parent > 1 else { return }
        if mixmae_die_with_parent(parent) == 1 { kill(getpid(), SIGTERM) }
    }

    /// Makes the first arrival of `signal` send `forwarded` to this process, once, however
    /// many arrivals reach however many threads at the same moment; later arrivals of
    /// `signal` are ignored. Calling it again re-arms it. This is how the parent-death
    /// signal (SIGUSR2, repeated by the kernel) becomes one SIGTERM. Returns false when
    /// the system refuses the handler (a signal number that cannot be caught).
    ///
    /// ```swift
    /// ParentDeath.forwardFirstArrival(of: SIGUSR2, as: SIGTERM)
    /// ```
    @discardableResult
    public static func forwardFirstArrival(of signal: Int32, as forwarded: Int32) -> Bool {
        mixmae_forward_first_signal(signal, forwarded) == 0
    }
}
