import Foundation
import MixmaeData
import TestSupport
import Testing

/// `scripts/digits-to-folder`: scikit-learn's digits (Debian's python3-sklearn, which
/// scripts/install-deps installs) as an ImageFolder the host reads.
@Suite struct DigitsFolderTests {
    /// Per-digit counts of the 1,797 images (UCI optdigits' test set, as scikit-learn ships it).
    static let counts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    /// Image 0 of the data set (a "0"), 8x8 values 0...16.
    static let first: [Int] = [
        0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0,
        0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0,
    ]

    @Test func theScriptWritesEveryDigitAsAnImageFolderTheHostReads() throws {
        let folder = try TemporaryFolder("digits")
        let out = folder.url.appendingPathComponent("digits").path
        let script = TestPaths.packageRoot.appendingPathComponent("scripts/digits-to-folder").path
        let result = try runProgram("/usr/bin/env", ["python3", script, out, "--size", "16"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("wrote 1438 training and 359 validation images of 16x16"), "\(result.stdout)")

        let train = try ImageFolder(root: out + "/train")
        let val = try ImageFolder(root: out + "/val")
        #expect(train.classes == (0...9).map(String.init) && val.classes == train.classes)
        #expect(train.samples.count == 1438 && val.samples.count == 359)
        for digit in 0...9 {
            let both = (train.samples + val.samples).filter { $0.label == digit }.count
            #expect(both == Self.counts[digit], "digit \(digit)")
        }
        // Every fifth image (index % 5 == 4) is a validation image.
        let valIndices = val.samples.map {
            Int(URL(fileURLWithPath: $0.path).deletingPathExtension().lastPathComponent)!
        }
        #expect(valIndices.allSatisfy { $0 % 5 == 4 })

        // Image 0, read as RGB by the host's decoder: each 8x8 value v is a 2x2 block of
        // grey round(v * 255 / 16) in all three channels.
        let image = try Image(contentsOfFile: out + "/train/0/0000.png", mode: .rgb)
        #expect(image.width == 16 && image.height == 16 && image.channels == 3)
        var expected: [UInt8] = []
        for y in 0..<16 {
            for x in 0..<16 {
                let grey = UInt8((Double(Self.first[(y / 2) * 8 + x / 2]) * 255 / 16).rounded())
                expected += [grey, grey, grey]
            }
        }
        #expect(image.pixels == expected)
    }
}
