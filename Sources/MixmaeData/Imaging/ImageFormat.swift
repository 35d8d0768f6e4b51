/// The file formats the codecs read and write.
///
///     ImageFormat(detecting: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])  // .png
///     ImageFormat(pathExtension: "JPG")                                     // .jpeg
public enum ImageFormat: String, Sendable, CaseIterable {
    case png
    case jpeg

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The format whose magic bytes start `bytes`, or nil. JPEG is recognised
    /// by its start-of-image marker FF D8 FF, PNG by its 8-byte signature.
    public init?<Bytes: Collection>(detecting bytes: Bytes) where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF {
            self = .jpeg
        } else if head == ImageFormat.pngSignature {
            self = .png
        } else {
            return nil
        }
    }

    /// The format a file extension names (`png`, `jpg`, `jpeg`, any case), or nil.
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        default: return nil
        }
    }

    /// Names the format of bytes that are neither PNG nor JPEG, for error messages.
    static func describeUnknown(_ head: [UInt8]) -> String {
        let known: [(prefix: [UInt8], name: String)] = [
            (Array("GIF8".utf8), "a GIF image"),
            (Array("BM".utf8), "a BMP image"),
            ([0x49, 0x49, 0x2A, 0x00], "a TIFF image"),
            ([0x4D, 0x4D, 0x00, 0x2A], "a TIFF image"),
            (Array("RIFF".utf8), "a RIFF file (WebP?)"),
            (Array("<".utf8), "text (HTML or XML?)"),
            (Array("{".utf8), "text (JSON?)"),
        ]
        if head.isEmpty { return "an empty file" }
        if head.count < 8, Array(pngSignature.prefix(head.count)) == head {
            return "the first \(head.count) bytes of a PNG signature only"
        }
        let hex = head.prefix(8).map { String($0, radix: 16, uppercase: true) }
            .map { $0.count == 1 ? "0" + $0 : $0 }.joined(separator: " ")
        for entry in known where head.starts(with: entry.prefix) {
            return "\(entry.name), starting with \(hex)"
        }
        return "data starting with \(hex)"
    }
}
