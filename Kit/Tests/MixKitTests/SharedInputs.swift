import Foundation

/// The project's read-only inputs (fixtures, bench configs), as the root
/// package's tests find them: $MIXMAE_SHARED, else `../shared` next to the
/// repository, else /work/shared.
enum SharedInputs {
    /// The repository root (this file is `Kit/Tests/MixKitTests/SharedInputs.swift`).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder holding `fixtures/` and `bench/`.
    static var path: String {
        if let path = ProcessInfo.processInfo.environment["MIXMAE_SHARED"] { return path }
        let sibling = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
        if FileManager.default.fileExists(atPath: sibling.path) { return sibling.path }
        return "/work/shared"
    }
}

/// A fresh folder for one test, under a scratch folder of this test process
/// that is removed when the process exits.
func temporaryDirectory(_ label: String = "test") throws -> URL {
    let url = KitTestScratch.root.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private enum KitTestScratch {
    static let root: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mixkit-tests-\(getpid())", isDirectory: true)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: KitTestScratch.root) }
        return url
    }()
}
