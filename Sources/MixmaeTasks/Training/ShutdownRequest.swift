import CHostSupport
import Foundation
import MixmaeSupport

/// Turns SIGINT (Ctrl-C) and SIGTERM into a flag that a training loop polls, so the loop
/// can finish its step, write a checkpoint and mark its run KILLED instead of dying
/// half-way.
///
/// The handler only records the signal (async-signal-safe) and prints one line. It is
/// installed with `SA_RESETHAND`: a second Ctrl-C ends the process at once, and the run
/// then shows up as CRASHED.
///
/// ```swift
/// try ShutdownRequest.install()
/// defer { ShutdownRequest.uninstall() }
/// for step in steps {
///     try trainStep(step)
///     if ShutdownRequest.isRequested {
///         try saveCheckpoint()                       // then record it with the run
///         try run.finish(.killed(signal: ShutdownRequest.signal ?? SIGINT))
///         return
///     }
/// }
/// ```
public enum ShutdownRequest {
    /// Installs the SIGINT and SIGTERM handlers and unblocks both signals in the calling
    /// thread (call it from the main thread, before starting worker threads). Calling it
    /// again does nothing.
    public static func install() throws {
        if mixmae_install_shutdown_handlers() != 0 {
            throw ShutdownHandlerError(reason: String(cString: strerror(errno)))
        }
    }

    /// Restores the handlers that were in place before ``install()``.
    public static func uninstall() {
        mixmae_uninstall_shutdown_handlers()
    }

    /// True once SIGINT or SIGTERM arrived after ``install()``.
    public static var isRequested: Bool { mixmae_shutdown_signal() != 0 }

    /// The signal that asked for the stop, or nil.
    public static var signal: Int32? {
        let value = mixmae_shutdown_signal()
        return value == 0 ? nil : value
    }

    /// Forgets a request (for a process that goes on to other work after stopping a run).
    public static func reset() {
        mixmae_reset_shutdown_request()
    }
}

/// The signal handlers could not be installed.
public struct ShutdownHandlerError: UserFacingError {
    public let reason: String
    public var what: String { "cannot install the SIGINT/SIGTERM handlers: \(reason)" }
}
