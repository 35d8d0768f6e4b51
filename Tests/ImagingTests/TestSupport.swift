import Foundation
import MixmaeData
import TestSupport

/// FNV-1a, 64-bit: a compact exact fingerprint of pixel bytes.
func fnv1a(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}

/// A deterministic test pattern: sample (x, y, c) = (37x + 91y + 53c + 7((xy) mod 17)) mod 256.
func patternImage(width: Int, height: Int, channels: Int) throws -> Image {
    var pixels = [UInt8]()
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                pixels.append(UInt8((x * 37 + y * 91 + c * 53 + ((x * y) % 17) * 7) % 256))
            }
        }
    }
    return try Image(width: width, height: height, channels: channels, pixels: pixels)
}

/// A smooth image (gradients), which JPEG reproduces closely.
func smoothImage(width: Int, height: Int, channels: Int) throws -> Image {
    var pixels = [UInt8]()
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                let value = 40 + 150 * Double(x) / Double(width) + 50 * Double(y) / Double(height)
                pixels.append(UInt8(min(255, value + Double(c) * 10)))
            }
        }
    }
    return try Image(width: width, height: height, channels: channels, pixels: pixels)
}
