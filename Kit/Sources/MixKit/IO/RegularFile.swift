import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why an input file could not be read: always names the file.
public struct InputFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// The read-only bytes of one input: a memory-mapped regular file, or a copy
/// held in memory (tests and fuzzing). Readers take their bounds from
/// ``count`` and never read past it.
///
/// ```swift
/// let bytes = try RegularFile.map("weights.safetensors")
/// print(bytes.count, bytes.buffer.first ?? 0)
/// ```
public final class InputBytes: @unchecked Sendable {
    /// The file name used in error messages.
    public let path: String
    /// The bytes; valid as long as this object lives.
    public let buffer: UnsafeRawBufferPointer
    private let release: () -> Void

    /// The number of bytes.
    public var count: Int { buffer.count }

    init(path: String, buffer: UnsafeRawBufferPointer, release: @escaping () -> Void) {
        self.path = path
        self.buffer = buffer
        self.release = release
    }

    /// A copy of `bytes`, named `path` in error messages.
    ///
    /// ```swift
    /// let bytes = InputBytes(copying: [0x80, 0x02, 0x4e, 0x2e], path: "none.pkl")
    /// ```
    public convenience init<Bytes: Collection>(copying bytes: Bytes, path: String) where Bytes.Element == UInt8 {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 16)
        _ = UnsafeMutableRawBufferPointer(rebasing: storage[0..<bytes.count]).initializeMemory(
            as: UInt8.self, from: bytes)
        self.init(
            path: path, buffer: UnsafeRawBufferPointer(rebasing: storage[0..<bytes.count]),
            release: { storage.deallocate() })
    }

    deinit { release() }
}

/// Opening inputs safely: only regular files are read (a FIFO, a device such
/// as `/dev/zero`, a socket or a folder is refused at once, without blocking),
/// and a file larger than the caller's limit is refused before it is read.
///
/// ```swift
/// let recipe = try RegularFile.read("recipes/base/classify.yaml", maxBytes: 1 << 20, what: "recipe")
/// let weights = try RegularFile.map("mixmim_base.pth")
/// ```
public enum RegularFile {
    /// Reads the whole of `path` into memory; `what` names the kind of file in errors.
    /// Reads to the end of the file, so files whose size the kernel does not
    /// report (`/proc/...`) are read whole too, still within `maxBytes`.
    public static func read(_ path: String, maxBytes: Int, what: String = "file") throws -> Data {
        let (fd, size) = try open(path, maxBytes: maxBytes, what: what)
        defer { close(fd) }
        var data = Data()
        data.reserveCapacity(size)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                throw InputFileError(
                    path: path, problem: "cannot read the \(what): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
            guard data.count <= maxBytes else {
                throw InputFileError(
                    path: path,
                    problem: "grew past the \(ByteCount.describe(maxBytes)) a \(what) may have while it was read")
            }
        }
        return data
    }

    /// Maps `path` read-only into memory.
    public static func map(_ path: String, maxBytes: Int = Int.max, what: String = "file") throws -> InputBytes {
        let (fd, size) = try open(path, maxBytes: maxBytes, what: what)
        defer { close(fd) }
        guard size > 0 else { return InputBytes(copying: [UInt8](), path: path) }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw InputFileError(path: path, problem: "cannot map the file: \(String(cString: strerror(errno)))")
        }
        return InputBytes(path: path, buffer: UnsafeRawBufferPointer(start: map, count: size)) { munmap(map, size) }
    }

    /// Opens `path` for reading without blocking and checks that it is a
    /// regular file of at most `maxBytes` bytes; returns the descriptor and size.
    static func open(_ path: String, maxBytes: Int, what: String) throws -> (CInt, Int) {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw InputFileError(path: path, problem: "cannot open the \(what): \(reason)")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw InputFileError(path: path, problem: "cannot stat the \(what): \(reason)")
        }
        let kind = st.st_mode & S_IFMT
        guard kind == S_IFREG else {
            close(fd)
            throw InputFileError(
                path: path, problem: "is \(describeFileKind(kind)), not a regular file: give the path of the \(what)")
        }
        let size = Int(st.st_size)
        guard size <= maxBytes else {
            close(fd)
            throw InputFileError(
                path: path,
                problem:
                    "is \(ByteCount.describe(size)), more than the \(ByteCount.describe(maxBytes)) a \(what) may have")
        }
        _ = fcntl(fd, F_SETFL, O_RDONLY)
        return (fd, size)
    }

    static func describeFileKind(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file (mode \(String(kind, radix: 8)))"
        }
    }
}

/// Human-readable byte counts for error messages.
enum ByteCount {
    static func describe(_ bytes: Int) -> String {
        let units: [(Double, String)] = [(0x1p40, "TiB"), (0x1p30, "GiB"), (0x1p20, "MiB"), (0x1p10, "KiB")]
        for (size, unit) in units where Double(bytes) >= size {
            return String(format: "%.1f", Double(bytes) / size) + " \(unit) (\(bytes) bytes)"
        }
        return "\(bytes) bytes"
    }
}
