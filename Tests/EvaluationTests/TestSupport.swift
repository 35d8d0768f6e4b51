import Foundation

/// The shared fixtures folder: $MIXMAE_SHARED, else <package root>/../shared, else /work/shared.
func sharedFixtures() -> URL {
    if let path = ProcessInfo.processInfo.environment["MIXMAE_SHARED"] {
        return URL(fileURLWithPath: path)
    }
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
    if FileManager.default.fileExists(atPath: sibling.path) { return sibling }
    return URL(fileURLWithPath: "/work/shared")
}

/// /work/shared/fixtures/eval (or its equivalent).
var evalFixtures: URL { sharedFixtures().appendingPathComponent("fixtures/eval") }

/// The fixture's expected numbers, by key.
func expectedNumbers(_ relativePath: String) throws -> [String: Any] {
    let data = try Data(contentsOf: evalFixtures.appendingPathComponent(relativePath))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("mixmae-eval-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes a JSON value to `name` in `directory` and returns the path.
func writeJSON(_ value: Any, named name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try JSONSerialization.data(withJSONObject: value).write(to: url)
    return url.path
}

/// The built `mixmae` executable: $MIXMAE_BIN, else next to the test bundle.
func mixmaeBinary() -> String {
    if let path = ProcessInfo.processInfo.environment["MIXMAE_BIN"] { return path }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return executable.deletingLastPathComponent().appendingPathComponent("mixmae").path
}

/// Runs `mixmae` with `arguments`; returns exit status, stdout and stderr.
func runMixmae(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: mixmaeBinary())
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outputData, as: UTF8.self),
        String(decoding: errorData, as: UTF8.self)
    )
}
