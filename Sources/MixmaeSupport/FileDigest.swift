import Foundation

/// The SHA-256 of a file, streamed in 1 MiB chunks so memory stays flat for any size.
///
/// ```swift
/// let (sha256, size) = try FileDigest.of(URL(fileURLWithPath: "last.safetensors"))
/// ```
public enum FileDigest {
    /// The lowercase hex SHA-256 (what `sha256sum` prints) and the size in bytes of the file
    /// at `url`. Throws ``FileDigestError`` when it cannot be opened or read.
    public static func of(_ url: URL) throws -> (sha256: String, size: Int64) {
        // Non-blocking and regular files only: a FIFO or a device such as
        // /dev/zero is refused at once instead of blocking or never ending.
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else {
            throw FileDigestError(path: url.path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw FileDigestError(path: url.path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw FileDigestError(path: url.path, reason: "not a regular file; give the path of a file")
        }
        _ = fcntl(descriptor, F_SETFL, O_RDONLY)
        let chunkSize = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        var hasher = SHA256()
        var size: Int64 = 0
        while true {
            let count = read(descriptor, buffer.baseAddress, chunkSize)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileDigestError(path: url.path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            size += Int64(count)
            hasher.update(buffer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return (hasher.finalize(), size)
    }
}

/// A file could not be read for hashing.
public struct FileDigestError: UserFacingError {
    /// The file that failed.
    public let path: String
    /// What the operating system said.
    public let reason: String

    public var what: String { "cannot read \(path) to hash it: \(reason)" }
}
