import Foundation
import MixmaeSupport
import TestSupport
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hex(of: Array(input.utf8)) == digest)
    }

    @Test func oneMillionAs() {
        #expect(
            SHA256.hex(of: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// 1 MB of pseudo-random bytes, fed in uneven pieces, against `sha256sum`.
    @Test func oneMegabyteMatchesSha256sum() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<(1 << 20) + 13).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let dir = try TemporaryFolder("sha")
        let file = dir.file("data.bin")
        try Data(bytes).write(to: URL(fileURLWithPath: file))

        var sha = SHA256()
        var offset = 0
        var piece = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            sha.update(bytes[offset..<end])
            offset = end
            piece = piece * 3 % 1000 + 1
        }
        let streamed = sha.finalize()

        let result = try runProgram("/usr/bin/env", ["sha256sum", file])
        #expect(result.status == 0)
        let expected = String(result.stdout.prefix(64))
        #expect(expected.count == 64)
        #expect(streamed == expected)
        #expect(SHA256.hex(of: bytes) == expected)
    }

    @Test func bytesDigestMatchesHex() {
        var sha = SHA256()
        sha.update(Array("abc".utf8))
        let digest = sha.finalizeBytes()
        #expect(digest.count == 32)
        #expect(digest.prefix(4) == [0xba, 0x78, 0x16, 0xbf])
    }
}
