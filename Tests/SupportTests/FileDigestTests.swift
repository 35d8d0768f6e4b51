import Foundation
import MixmaeSupport
import TestSupport
import Testing

@Suite struct FileDigestTests {
    @Test func matchesSha256sum() throws {
        let directory = try TemporaryFolder("sha")
        var generator = SystemRandomNumberGenerator()
        // Sizes around the padding boundaries and across the 1 MiB read chunk.
        for size in [0, 1, 55, 56, 63, 64, 65, 119, 120, 1 << 20, (1 << 20) + 17, 3 * (1 << 20) + 5] {
            let url = directory.fileURL("f\(size).bin")
            try Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: url)
            let (digest, length) = try FileDigest.of(url)
            let result = try runProgram("/usr/bin/sha256sum", [url.path])
            #expect(result.status == 0)
            #expect(String(result.stdout.prefix(64)) == digest, "size \(size)")
            #expect(length == Int64(size))
        }
    }

    @Test func unreadableFileIsAClearError() {
        let error = thrownError { _ = try FileDigest.of(URL(fileURLWithPath: "/nonexistent/x.bin")) }
        #expect("\(error!)".contains("/nonexistent/x.bin"))
        #expect("\(error!)".contains("No such file"))
    }
}
