import CHostSupport
import Foundation

/// What decoding delivers, whatever the file stores.
public enum ImageDecodeMode: Sendable {
    /// As stored, in 8 bits: 1 channel for grayscale, 3 for colour, 4 when the
    /// file has an alpha channel or PNG transparency (grayscale+alpha becomes
    /// RGBA); palettes are expanded, 16-bit samples keep their high byte.
    case original
    /// Always 3 channels, as Pillow's `convert("RGB")` does: grayscale is
    /// replicated, alpha and transparency are dropped (not composited), 16-bit
    /// samples keep their high byte, Adobe-style CMYK JPEGs are converted.
    case rgb
    /// Always 4 channels; opaque images get alpha 255.
    case rgba
    /// One channel of raw values for segmentation labels: grayscale samples or
    /// palette indices, never scaled or expanded (a 2-bit map holds 0...3, a
    /// 16-bit map must hold values <= 255). Colour PNGs and JPEGs are errors.
    case labelMap

    var code: Int32 {
        switch self {
        case .original: return Int32(MIXMAE_DECODE_ORIGINAL.rawValue)
        case .rgb: return Int32(MIXMAE_DECODE_RGB.rawValue)
        case .rgba: return Int32(MIXMAE_DECODE_RGBA.rawValue)
        case .labelMap: return Int32(MIXMAE_DECODE_LABELS.rawValue)
        }
    }
}

extension Image {
    /// Reads and decodes a PNG or JPEG file, recognised by its first bytes
    /// (not its extension).
    ///
    ///     let photo = try Image(contentsOfFile: "train/cat/001.jpg")           // RGB
    ///     let labels = try Image(contentsOfFile: "ann/001.png", mode: .labelMap)
    ///
    /// Errors (`ImageError`) name the file and say what is wrong: unreadable,
    /// not a PNG/JPEG, truncated, corrupt, or unsupported in this mode.
    public init(contentsOfFile path: String, mode: ImageDecodeMode = .rgb) throws {
        try self.init(decoding: FileBytes.read(path), mode: mode, source: path)
    }

    /// Decodes PNG or JPEG bytes; `source` names them in errors.
    ///
    ///     let image = try Image(decoding: bytes, mode: .rgb, source: "shard-3/item-17")
    public init(decoding bytes: [UInt8], mode: ImageDecodeMode = .rgb, source: String = "<bytes>")
        throws
    {
        self = try bytes.withUnsafeBytes {
            try Image.decode($0, mode: mode, source: source)
        }
    }

    /// Decodes PNG or JPEG bytes held in `Data`; `source` names them in errors.
    public init(decoding data: Data, mode: ImageDecodeMode = .rgb, source: String = "<bytes>")
        throws
    {
        self = try data.withUnsafeBytes {
            try Image.decode($0, mode: mode, source: source)
        }
    }

    /// The image encoded as a PNG (8-bit gray, RGB or RGBA) or JPEG file
    /// (gray or RGB only; `quality` 1...100, libjpeg's default 4:2:0 chroma
    /// subsampling for colour).
    ///
    ///     let png = try image.encoded(as: .png)
    ///     let jpeg = try image.encoded(as: .jpeg, quality: 95)
    public func encoded(as format: ImageFormat, quality: Int = 90) throws -> [UInt8] {
        var result = mixmae_image_result()
        let status: Int32 = pixels.withUnsafeBufferPointer { samples in
            switch format {
            case .png:
                return mixmae_png_encode(
                    samples.baseAddress, Int32(clamping: width), Int32(clamping: height),
                    Int32(channels), &result)
            case .jpeg:
                return mixmae_jpeg_encode(
                    samples.baseAddress, Int32(clamping: width), Int32(clamping: height),
                    Int32(channels), Int32(clamping: quality), &result)
            }
        }
        let source = "\(format.rawValue.uppercased()) encoder"
        return try Image.takeBytes(&result, status: status, format: format, source: source)
    }

    /// Encodes the image and writes it atomically (temporary file, then rename).
    /// The format is `format`, or else the one `path`'s extension names.
    ///
    ///     try image.write(toFile: "out/mask.png")
    public func write(toFile path: String, format: ImageFormat? = nil, quality: Int = 90) throws {
        let pathExtension = (path as NSString).pathExtension
        guard let format = format ?? ImageFormat(pathExtension: pathExtension) else {
            throw ImageError(
                .invalidArgument, source: path,
                message: "cannot tell the format from the extension '\(pathExtension)'; "
                    + "use .png, .jpg or .jpeg, or pass the format")
        }
        do {
            try FileBytes.writeAtomically(encoded(as: format, quality: quality), to: path)
        } catch let error as ImageError where error.kind != .unwritable {
            throw ImageError(error.kind, source: path, message: error.message)
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, mode: ImageDecodeMode, source: String)
        throws -> Image
    {
        guard let format = ImageFormat(detecting: bytes) else {
            let head = Array(bytes.prefix(8))
            throw ImageError(
                .notAnImage, source: source,
                message: "not a PNG or JPEG file: \(ImageFormat.describeUnknown(head))")
        }
        let start = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var result = mixmae_image_result()
        let status: Int32
        switch format {
        case .png: status = mixmae_png_decode(start, bytes.count, mode.code, &result)
        case .jpeg: status = mixmae_jpeg_decode(start, bytes.count, mode.code, &result)
        }
        let pixels = try takeBytes(&result, status: status, format: format, source: source)
        return Image(
            unchecked: Int(result.width), Int(result.height), Int(result.channels), pixels)
    }

    /// Moves a successful result's buffer into an array, or turns the status into an error.
    private static func takeBytes(
        _ result: inout mixmae_image_result, status: Int32, format: ImageFormat, source: String
    ) throws -> [UInt8] {
        guard status == Int32(MIXMAE_IMAGE_OK.rawValue) else {
            throw error(status: status, result: &result, format: format, source: source)
        }
        defer { mixmae_image_buffer_free(result.data) }
        return Array(UnsafeBufferPointer(start: result.data, count: result.size))
    }

    private static func error(
        status: Int32, result: inout mixmae_image_result, format: ImageFormat, source: String
    ) -> ImageError {
        let detail = withUnsafeBytes(of: &result.message) {
            String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
        }
        let name = format.rawValue.uppercased()
        switch UInt32(status) {
        case MIXMAE_IMAGE_TRUNCATED.rawValue:
            return ImageError(
                .truncated, source: source,
                message: "truncated \(name): \(detail) (the file is incomplete; "
                    + "re-download or re-export it)")
        case MIXMAE_IMAGE_CORRUPT.rawValue:
            return ImageError(.corrupt, source: source, message: "corrupt \(name): \(detail)")
        case MIXMAE_IMAGE_UNSUPPORTED.rawValue:
            return ImageError(.unsupported, source: source, message: "unsupported \(name): \(detail)")
        case MIXMAE_IMAGE_TOO_LARGE.rawValue:
            return ImageError(.tooLarge, source: source, message: "\(name) too large: \(detail)")
        case MIXMAE_IMAGE_NO_MEMORY.rawValue:
            return ImageError(.outOfMemory, source: source, message: "\(name): \(detail)")
        default:
            return ImageError(.invalidArgument, source: source, message: "\(name): \(detail)")
        }
    }
}
