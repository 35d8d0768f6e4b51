import MixmaeSupport
/// Why an image could not be read, written or transformed, and which one.
///
///     do { _ = try Image(contentsOfFile: "cat.png") } catch let error as ImageError {
///         print(error)  // cat.png: truncated PNG: the data ends before ... (re-export or re-download it)
///     }
public struct ImageError: UserFacingError, Equatable, Sendable {
    /// The kind of failure, for callers that treat some differently.
    public enum Kind: String, Sendable {
        /// The file could not be opened or read (missing, a directory, no permission).
        case unreadable
        /// The bytes are not a PNG or JPEG file.
        case notAnImage
        /// The file ends before the image does.
        case truncated
        /// The codec rejected the data.
        case corrupt
        /// A valid file that cannot be delivered as asked (e.g. an RGB label map).
        case unsupported
        /// More pixels than the decoders accept.
        case tooLarge
        /// Memory ran out.
        case outOfMemory
        /// A bad argument (shape, crop rectangle, quality, size).
        case invalidArgument
        /// The file could not be written.
        case unwritable
    }

    public let kind: Kind
    /// The file path, or a label for in-memory bytes.
    public let source: String
    /// What is wrong, in words.
    public let message: String

    public init(_ kind: Kind, source: String, message: String) {
        self.kind = kind
        self.source = source
        self.message = message
    }

    public var what: String { message }
    public var location: ErrorLocation? { .file(source) }
}
