import Foundation

/// Whole-file reads and atomic writes with error messages that say why.
package enum FileBytes {
    /// The contents of the file at `path`.
    package static func read(_ path: String) throws -> [UInt8] {
        // Non-blocking, so that a FIFO is refused instead of waiting for a writer.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard descriptor >= 0 else { throw unreadable(path, errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw unreadable(path, errno) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw ImageError(.unreadable, source: path, message: "not a regular file")
        }
        _ = fcntl(descriptor, F_SETFL, O_RDONLY)
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(status.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes {
                Foundation.read(descriptor, $0.baseAddress, $0.count)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw unreadable(path, errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
    package static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw unwritable(path, errno) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes {
                write(descriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(descriptor)
                unlink(temporary)
                throw unwritable(path, code)
            }
            offset += written
        }
        guard close(descriptor) == 0, rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw unwritable(path, code)
        }
    }

    private static func unreadable(_ path: String, _ code: Int32) -> ImageError {
        ImageError(.unreadable, source: path, message: "cannot read: \(String(cString: strerror(code)))")
    }

    private static func unwritable(_ path: String, _ code: Int32) -> ImageError {
        ImageError(.unwritable, source: path, message: "cannot write: \(String(cString: strerror(code)))")
    }
}
