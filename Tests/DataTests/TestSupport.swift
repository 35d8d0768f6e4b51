import Foundation
import Host

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mixmae-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Every regular file under `root`, by path relative to it, with its bytes.
func fileContents(under root: URL) throws -> [String: Data] {
    var files = [String: Data]()
    let enumerator = FileManager.default.enumerator(atPath: root.path)!
    while let relative = enumerator.nextObject() as? String {
        let url = root.appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
        if !isDirectory.boolValue { files[relative] = try Data(contentsOf: url) }
    }
    return files
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

/// An RGB image whose pixel (x, y) is (x, y, 77): its values say where it came from.
func coordinateImage(width: Int, height: Int) throws -> Image {
    var pixels = [UInt8]()
    for y in 0..<height {
        for x in 0..<width { pixels += [UInt8(x), UInt8(y), 77] }
    }
    return try Image(width: width, height: height, channels: 3, pixels: pixels)
}

/// The label the coordinate test data gives pixel (x, y).
func coordinateLabel(x: Int, y: Int) -> UInt8 { UInt8((x + 3 * y) % 11) }

/// A label map of ``coordinateLabel(x:y:)``.
func coordinateLabels(width: Int, height: Int) throws -> Image {
    var pixels = [UInt8]()
    for y in 0..<height {
        for x in 0..<width { pixels.append(coordinateLabel(x: x, y: y)) }
    }
    return try Image(width: width, height: height, channels: 1, pixels: pixels)
}

/// Normalisation that leaves values at `pixel / 255`, so tests can read pixels back.
let unitNormalization = Normalization(mean: [0, 0, 0], std: [1, 1, 1])

/// The pixel value a unit-normalised float came from.
func byte(_ value: Float) -> Int { Int((value * 255).rounded()) }

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
