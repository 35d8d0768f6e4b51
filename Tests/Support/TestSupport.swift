import Foundation

/// Paths the test suites share.
public enum TestPaths {
    /// The package root.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The read-only inputs (fixtures, bench configs): $MIXMAE_SHARED, else
    /// `<package root>/../shared`, else /work/shared.
    public static var shared: URL {
        if let path = ProcessInfo.processInfo.environment["MIXMAE_SHARED"] { return URL(fileURLWithPath: path) }
        let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
        if FileManager.default.fileExists(atPath: sibling.path) { return sibling }
        return URL(fileURLWithPath: "/work/shared")
    }

    /// Where SwiftPM put the test bundle, `mixmae` and the plugin libraries.
    public static let buildDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent()

    /// The built `mixmae`: $MIXMAE_BIN, else next to the test bundle.
    public static var mixmae: String {
        ProcessInfo.processInfo.environment["MIXMAE_BIN"] ?? buildDirectory.appendingPathComponent("mixmae").path
    }
}

/// A test's own set-up went wrong (a missing executable, an unexpected file layout).
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The error `body` throws, or nil.
public func thrownError(_ body: () throws -> Void) -> Error? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; returns whether it held.
public func waitUntil(timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// The first executable file called `name` in a folder of PATH (absolute folders only: a test may run it from
/// another directory), else `fallback` (where Debian installs it) when that is one; nil when neither is.
///
/// ```swift
/// let mpirun = executable(named: "mpirun", else: "/usr/bin/mpirun")
/// ```
public func executable(named name: String, else fallback: String) -> String? {
    let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").filter {
        $0.hasPrefix("/")
    }
    return (folders.map { "\($0)/\(name)" } + [fallback]).first { FileManager.default.isExecutableFile(atPath: $0) }
}
