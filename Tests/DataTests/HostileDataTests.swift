import Foundation
import MixKit
import MixmaeData
import TestSupport
import Testing

/// Data files built to hurt the readers (issue 11: regular files only,
/// decompression bombs) and the replay of the png, jpeg and coco fuzz
/// targets' corpora and crashers.
@Suite struct HostileDataTests {
    @Test(arguments: DataReaderFuzzing.targets)
    func theFuzzCorpusAndCrashersReplayWithoutCrashing(_ target: String) throws {
        #expect(FuzzCorpus.seeds(target).count >= 3, "Fuzz/Corpus/\(target)")
        var accepted = 0
        for url in FuzzCorpus.inputs(target) {
            let outcome = try #require(DataReaderFuzzing.run(target, [UInt8](try Data(contentsOf: url))))
            if case .accepted = outcome { accepted += 1 }
            // The hand-made seeds (not the inputs the fuzzer found, named by their SHA-1) are valid files.
            let found = url.lastPathComponent.count == 40 && url.lastPathComponent.allSatisfy(\.isHexDigit)
            if FuzzCorpus.seeds(target).contains(url) && !found {
                #expect(outcome != .rejected(""), "\(url.lastPathComponent)")
                if case .rejected(let message) = outcome { Issue.record("seed \(url.lastPathComponent): \(message)") }
            }
        }
        #expect(accepted > 0)
    }

    /// A PNG whose header claims `width` x `height` pixels, with one row of data.
    func pngClaiming(width: UInt32, height: UInt32) -> [UInt8] {
        func chunk(_ kind: String, _ body: [UInt8]) -> [UInt8] {
            let typeAndBody = Array(kind.utf8) + body
            return bigEndian(UInt32(body.count)) + typeAndBody + bigEndian(crc32(typeAndBody))
        }
        let header = bigEndian(width) + bigEndian(height) + [8, 0, 0, 0, 0]
        return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", header)
            + chunk("IDAT", [0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]) + chunk("IEND", [])
    }

    func bigEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }

    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xedb8_8320 : 0) }
        }
        return ~crc
    }

    @Test func anImageClaimingGigapixelsIsRefusedBeforeDecoding() throws {
        let bomb = pngClaiming(width: 100_000, height: 100_000)
        do {
            _ = try Image(decoding: bomb, source: "bomb.png")
            Issue.record("a 100000x100000 PNG was accepted")
        } catch let error as ImageError {
            #expect(error.kind == .tooLarge, "\(error)")
            #expect("\(error)".contains("100000x100000 pixels is more than the limit of 178956970 pixels"), "\(error)")
            #expect("\(error)".contains("bomb.png"), "\(error)")
        }
    }

    @Test func imagesAndJSONFromAFIFOOrADeviceAreRefusedWithoutWaiting() throws {
        let dir = try TemporaryFolder()
        let fifo = dir.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [fifo, "/dev/zero"] {
            #expect(throws: ImageError.self) { _ = try Image(contentsOfFile: path) }
            do {
                _ = try COCOInstances(contentsOfFile: path)
                Issue.record("\(path) was read as COCO JSON")
            } catch {
                #expect("\(error)".contains("not a regular file"), "\(error)")
            }
        }
    }
}
