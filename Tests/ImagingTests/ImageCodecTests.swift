import Foundation
import MixmaeData
import TestSupport
import Testing

@Suite struct PNGCodecTests {
    @Test(arguments: [1, 3, 4])
    func roundTripsEveryChannelCount(channels: Int) throws {
        let image = try patternImage(width: 13, height: 11, channels: channels)
        let bytes = try image.encoded(as: .png)
        #expect(ImageFormat(detecting: bytes) == .png)
        let decoded = try Image(decoding: bytes, mode: .original)
        #expect(decoded == image)
    }

    @Test func reads16BitSamplesAsTheirHighByte() throws {
        let samples = [0x0000, 0x01FF, 0xFF00, 0xABCD, 0x7F80, 0xFFFF]
        let rgb = PNGBuilder.make(
            width: 2, height: 1, bitDepth: 16, colorType: .rgb, samples: samples)
        let image = try Image(decoding: rgb, mode: .rgb)
        #expect(image.channels == 3)
        #expect(image.pixels == samples.map { UInt8($0 >> 8) })

        let gray = PNGBuilder.make(
            width: 3, height: 2, bitDepth: 16, colorType: .gray, samples: samples)
        let grayImage = try Image(decoding: gray, mode: .original)
        #expect(grayImage.channels == 1)
        #expect(grayImage.pixels == samples.map { UInt8($0 >> 8) })
        let grayAsRGB = try Image(decoding: gray, mode: .rgb)
        #expect(grayAsRGB.pixels == samples.flatMap { Array(repeating: UInt8($0 >> 8), count: 3) })
    }

    @Test func readsSixteenBitLabelMapsExactlyAndRejectsWideValues() throws {
        let fits = PNGBuilder.make(
            width: 3, height: 1, bitDepth: 16, colorType: .gray, samples: [0, 7, 255])
        #expect(try Image(decoding: fits, mode: .labelMap).pixels == [0, 7, 255])

        let wide = PNGBuilder.make(
            width: 3, height: 1, bitDepth: 16, colorType: .gray, samples: [0, 300, 1])
        let error = #expect(throws: ImageError.self) {
            try Image(decoding: wide, mode: .labelMap, source: "wide.png")
        }
        #expect(error?.kind == .unsupported)
        #expect(error?.description.contains("wide.png") == true)
        #expect(error?.description.contains("300 at x=1 y=0") == true)
    }

    @Test func grayscaleAndLowBitDepths() throws {
        let twoBit = PNGBuilder.make(
            width: 4, height: 2, bitDepth: 2, colorType: .gray, samples: [0, 1, 2, 3, 3, 2, 1, 0])
        #expect(try Image(decoding: twoBit, mode: .original).pixels == [0, 85, 170, 255, 255, 170, 85, 0])
        #expect(try Image(decoding: twoBit, mode: .labelMap).pixels == [0, 1, 2, 3, 3, 2, 1, 0])
        let asRGB = try Image(decoding: twoBit, mode: .rgb)
        #expect(asRGB.channels == 3)
        #expect(asRGB[x: 2, y: 0, channel: 0] == 170)
        #expect(asRGB[x: 2, y: 0, channel: 2] == 170)
    }

    @Test func palettesExpandForImagesAndStayIndicesForLabels() throws {
        let palette: [UInt8] = [10, 20, 30, 200, 100, 50, 0, 255, 0]
        let png = PNGBuilder.make(
            width: 3, height: 2, bitDepth: 4, colorType: .palette, samples: [0, 1, 2, 2, 1, 0],
            palette: palette)
        #expect(
            try Image(decoding: png, mode: .rgb).pixels
                == [10, 20, 30, 200, 100, 50, 0, 255, 0, 0, 255, 0, 200, 100, 50, 10, 20, 30])
        #expect(try Image(decoding: png, mode: .original).channels == 3)
        #expect(try Image(decoding: png, mode: .labelMap).pixels == [0, 1, 2, 2, 1, 0])
    }

    @Test func paletteTransparencyBecomesAlphaOnlyWhenAskedFor() throws {
        let png = PNGBuilder.make(
            width: 2, height: 1, bitDepth: 8, colorType: .palette, samples: [0, 1],
            palette: [1, 2, 3, 4, 5, 6], transparency: [0])
        let original = try Image(decoding: png, mode: .original)
        #expect(original.channels == 4)
        #expect(original.pixels == [1, 2, 3, 0, 4, 5, 6, 255])
        #expect(try Image(decoding: png, mode: .rgb).pixels == [1, 2, 3, 4, 5, 6])
        #expect(try Image(decoding: png, mode: .labelMap).pixels == [0, 1])
    }

    @Test func grayAlphaAndRGBA() throws {
        let grayAlpha = PNGBuilder.make(
            width: 2, height: 1, bitDepth: 8, colorType: .grayAlpha, samples: [100, 0, 200, 128])
        #expect(try Image(decoding: grayAlpha, mode: .original).pixels == [100, 100, 100, 0, 200, 200, 200, 128])
        // Alpha is dropped, not composited: the colour under a transparent pixel stays.
        #expect(try Image(decoding: grayAlpha, mode: .rgb).pixels == [100, 100, 100, 200, 200, 200])
        let labelError = #expect(throws: ImageError.self) {
            try Image(decoding: grayAlpha, mode: .labelMap)
        }
        #expect(labelError?.kind == .unsupported)
        #expect(labelError?.message.contains("grayscale+alpha") == true)

        let rgba = PNGBuilder.make(
            width: 1, height: 2, bitDepth: 8, colorType: .rgba, samples: [9, 8, 7, 0, 1, 2, 3, 255])
        #expect(try Image(decoding: rgba, mode: .rgb).pixels == [9, 8, 7, 1, 2, 3])
        #expect(try Image(decoding: rgba, mode: .rgba).pixels == [9, 8, 7, 0, 1, 2, 3, 255])
        let rgb = PNGBuilder.make(width: 1, height: 1, bitDepth: 8, colorType: .rgb, samples: [4, 5, 6])
        #expect(try Image(decoding: rgb, mode: .rgba).pixels == [4, 5, 6, 255])
        let rgbLabel = #expect(throws: ImageError.self) { try Image(decoding: rgb, mode: .labelMap) }
        #expect(rgbLabel?.message.contains("single-channel") == true)
    }

    @Test func readsTheSegmentationFixtures() throws {
        let seg = TestPaths.shared.appendingPathComponent("fixtures/eval/seg")
        // Sizes, sums and ignore counts computed with Pillow from the same files.
        let expected: [(file: String, width: Int, height: Int, sum: Int, ignored: Int)] = [
            ("gt/000.png", 55, 84, 125_308, 459), ("gt/001.png", 88, 107, 246_517, 901),
            ("pred/000.png", 55, 84, 10_696, 0),
        ]
        for entry in expected {
            let path = seg.appendingPathComponent(entry.file).path
            let labels = try Image(contentsOfFile: path, mode: .labelMap)
            #expect(labels.width == entry.width && labels.height == entry.height)
            #expect(labels.channels == 1)
            #expect(labels.pixels.reduce(0) { $0 + Int($1) } == entry.sum)
            #expect(labels.pixels.filter { $0 == 255 }.count == entry.ignored)
        }
    }
}

@Suite struct JPEGCodecTests {
    @Test func roundTripsRGBWithinASmallError() throws {
        let image = try smoothImage(width: 40, height: 24, channels: 3)
        let bytes = try image.encoded(as: .jpeg, quality: 95)
        #expect(ImageFormat(detecting: bytes) == .jpeg)
        let decoded = try Image(decoding: bytes)
        #expect(decoded.width == 40 && decoded.height == 24 && decoded.channels == 3)
        let differences = zip(image.pixels, decoded.pixels).map { abs(Int($0) - Int($1)) }
        #expect(differences.max()! <= 8)
        #expect(Double(differences.reduce(0, +)) / Double(differences.count) < 1.5)
    }

    @Test func grayscaleStaysOneChannelUnlessRGBIsAsked() throws {
        let image = try smoothImage(width: 16, height: 16, channels: 1)
        let bytes = try image.encoded(as: .jpeg, quality: 100)
        let gray = try Image(decoding: bytes, mode: .original)
        #expect(gray.channels == 1)
        #expect(zip(gray.pixels, image.pixels).allSatisfy { abs(Int($0) - Int($1)) <= 2 })
        let rgb = try Image(decoding: bytes, mode: .rgb)
        #expect(rgb.channels == 3)
        #expect(rgb.pixels == gray.pixels.flatMap { [$0, $0, $0] })
        #expect(try Image(decoding: bytes, mode: .rgba).pixels == gray.pixels.flatMap { [$0, $0, $0, 255] })
    }

    /// A 4x2 Adobe CMYK JPEG written by Pillow; the expected RGB is Pillow's
    /// `convert("RGB")` of it.
    @Test func convertsAdobeCMYKLikePillow() throws {
        let base64 =
            "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwABAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB/8AAFAgAAgAEBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYHCAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwD4b/4OWP2xP2uf2Tf26Ph/8Nv2V/2pv2jf2aPh1rfwg+LfxF1nwD+z98b/AImfBrwVq/xB8af8FCf26L7xj471Pwr8OfE/hvQr/wAZeLL2GG78TeJ7qwl1vXrqKK41S+upY0cflD/wcK/tuftn/s3f8FfP2vvB/wCzt+13+0/8BPCXiDXPh14t1/wt8Fvj78Vvhb4c1zxX/wAKj8B+D/8AhJtX0TwN4s0LTNS8Q/8ACJeD/CXhb+2r21n1L/hHfC/h3RPtP9maJplra/mZ/wAHlF1c3P8AwVQ+Fv2m4nuPs/7GHgO1t/Plkl8i2i/aE/acMdvD5jN5UEZdykSbY0LMVUFjn8Q/+Cqn/BSH/goh8PPHH7FVp4A/b1/bR8DWvir/AIJc/wDBPT4g+KLbwd+1J8cfDNv4k8e+Nf2ePDOt+MvG+vw6L46so9Y8X+LdZuJ9X8TeJdRW41nXtTmlv9Vvbu6keVv/2Q=="
        let bytes = [UInt8](Data(base64Encoded: base64)!)
        let image = try Image(decoding: bytes, mode: .rgb)
        #expect(image.width == 4 && image.height == 2 && image.channels == 3)
        #expect(
            image.pixels == [
                255, 255, 255, 0, 255, 255, 254, 0, 254, 255, 255, 0,
                0, 0, 0, 149, 197, 221, 122, 27, 112, 0, 0, 0,
            ])
    }

    @Test func refusesWhatJPEGCannotHold() throws {
        let rgba = try Image(width: 2, height: 2, channels: 4)
        let alpha = #expect(throws: ImageError.self) { try rgba.encoded(as: .jpeg) }
        #expect(alpha?.message.contains("not 4") == true)
        let gray = try Image(width: 2, height: 2, channels: 1)
        #expect(throws: ImageError.self) { try gray.encoded(as: .jpeg, quality: 0) }
        let jpeg = try gray.encoded(as: .jpeg)
        let labels = #expect(throws: ImageError.self) { try Image(decoding: jpeg, mode: .labelMap) }
        #expect(labels?.kind == .unsupported)
    }
}

@Suite struct BrokenImageTests {
    @Test func truncatedFilesAreErrorsNamingTheFile() throws {
        let directory = try TemporaryFolder().url
        let image = try smoothImage(width: 64, height: 48, channels: 3)
        for format in ImageFormat.allCases {
            let bytes = try image.encoded(as: format)
            let path = directory.appendingPathComponent("half.\(format.rawValue)").path
            try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: ImageError.self) { try Image(contentsOfFile: path) }
            #expect(error?.kind == .truncated)
            #expect(error?.description.hasPrefix(path + ": truncated \(format.rawValue.uppercased())") == true)
        }
    }

    @Test func garbageAndEmptyFilesAreNotImages() throws {
        let garbage = #expect(throws: ImageError.self) {
            try Image(decoding: Array("GIF89a and more".utf8), source: "anim.gif")
        }
        #expect(garbage?.kind == .notAnImage)
        #expect(garbage?.description.contains("anim.gif: not a PNG or JPEG file: a GIF image") == true)
        let empty = #expect(throws: ImageError.self) { try Image(decoding: [UInt8]()) }
        #expect(empty?.message.contains("an empty file") == true)
        var corrupt = [UInt8]([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        corrupt += [UInt8](repeating: 0x41, count: 64)
        #expect(throws: ImageError.self) { try Image(decoding: corrupt) }
        let jpegHeaderOnly: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x12, 0x34, 0x56]
        #expect(throws: ImageError.self) { try Image(decoding: jpegHeaderOnly) }
    }

    @Test func missingFilesAndDirectoriesAreUnreadable() throws {
        let directory = try TemporaryFolder().url
        let missing = directory.appendingPathComponent("nope.png").path
        let error = #expect(throws: ImageError.self) { try Image(contentsOfFile: missing) }
        #expect(error?.kind == .unreadable)
        #expect(error?.description == "\(missing): cannot read: No such file or directory")
        let folder = #expect(throws: ImageError.self) { try Image(contentsOfFile: directory.path) }
        #expect(folder?.kind == .unreadable)
    }

    /// Every corruption of a valid file either decodes or throws; none crashes.
    @Test func corruptedBytesNeverCrash() throws {
        var generator = SplitMix64(seed: 7)
        let image = try patternImage(width: 24, height: 16, channels: 3)
        for format in ImageFormat.allCases {
            let valid = try image.encoded(as: format)
            var failures = 0
            for _ in 0..<300 {
                var bytes = valid
                for _ in 0..<(1 + Int(generator.next() % 4)) {
                    let index = 8 + Int(generator.next() % UInt64(bytes.count - 8))
                    bytes[index] = UInt8(truncatingIfNeeded: generator.next())
                }
                if generator.next() % 3 == 0 {
                    bytes.removeLast(Int(generator.next() % UInt64(bytes.count / 2)))
                }
                do {
                    let decoded = try Image(decoding: bytes)
                    #expect(decoded.pixels.count == decoded.width * decoded.height * 3)
                } catch is ImageError {
                    failures += 1
                }
            }
            #expect(failures > 0)
        }
    }

    @Test func formatComesFromTheBytesNotTheName() throws {
        let directory = try TemporaryFolder().url
        let image = try patternImage(width: 5, height: 3, channels: 3)
        let path = directory.appendingPathComponent("really-a-png.jpg").path
        try image.write(toFile: path, format: .png)
        #expect(try Image(contentsOfFile: path) == image)
        let written = directory.appendingPathComponent("by-extension.png").path
        try image.write(toFile: written)
        #expect(try Image(contentsOfFile: written, mode: .original) == image)
        #expect(throws: ImageError.self) {
            try image.write(toFile: directory.appendingPathComponent("x.gif").path)
        }
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
