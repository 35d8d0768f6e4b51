import Foundation
import MixmaeData
import TestSupport

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
