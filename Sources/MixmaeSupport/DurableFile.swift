import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Crash-safe file operations: a write or a replacement is either wholly there or not at
/// all after a kill or a power cut (temporary file named `NAME.tmp-PID`, `fsync`, `rename`,
/// `fsync` of the folder).
///
/// ```swift
/// try DurableFile.write(Data("{}".utf8), to: "/runs/3/step-00000012.manifest.json")
/// try DurableFile.publish("/runs/3/step-00000012.safetensors", as: "/runs/3/last.safetensors")
/// ```
public enum DurableFile {
    /// The suffix of the temporary files these writes use (followed by the writer's pid).
    public static let temporaryMarker = ".tmp-"

    /// Writes `data` to `path` through a temporary file, fsynced and renamed into place.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + temporaryMarker + String(getpid())
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw DurableFileError(path: path, operation: "create", code: errno) }
        var failure: Int32 = 0
        data.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let count = Glibc.write(descriptor, buffer.baseAddress! + done, buffer.count - done)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += count
            }
        }
        if failure == 0 && fsync(descriptor) != 0 { failure = errno }
        close(descriptor)
        guard failure == 0 else {
            unlink(temporary)
            throw DurableFileError(path: path, operation: "write", code: failure)
        }
        try rename(temporary, to: path)
    }

    /// Makes `target` another name of the finished file `source` (a hard link, or a copy where
    /// the file system has none), replacing `target` atomically.
    public static func publish(_ source: String, as target: String) throws {
        let temporary = target + temporaryMarker + String(getpid())
        unlink(temporary)
        if link(source, temporary) != 0 {
            let linkError = errno
            do {
                try write(try Data(contentsOf: URL(fileURLWithPath: source)), to: temporary + ".copy")
                try rename(temporary + ".copy", to: temporary, syncFolder: false)
            } catch {
                throw DurableFileError(path: target, operation: "link \(source) to", code: linkError)
            }
        }
        try rename(temporary, to: target)
        // rename(2) does nothing when both names are links of one file (publishing again).
        unlink(temporary)
    }

    /// Renames `source` to `target` and fsyncs the folder.
    public static func rename(_ source: String, to target: String, syncFolder: Bool = true) throws {
        guard Glibc.rename(source, target) == 0 else {
            let code = errno
            unlink(source)
            throw DurableFileError(path: target, operation: "rename \(source) to", code: code)
        }
        if syncFolder { syncDirectory(of: target) }
    }

    /// Flushes the folder holding `path`, so a rename or removal in it survives a power cut.
    public static func syncDirectory(of path: String) {
        let folder = (path as NSString).deletingLastPathComponent
        let descriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    /// The pid in a temporary file's name (`last.safetensors.tmp-4242` → 4242), or nil.
    public static func temporaryOwner(ofFileNamed name: String) -> Int32? {
        guard let range = name.range(of: temporaryMarker, options: .backwards) else { return nil }
        let digits = name[range.upperBound...].prefix { $0.isNumber }
        return digits.isEmpty ? nil : Int32(digits)
    }

    /// True when a temporary file named `name` belongs to no living process (its writer was
    /// killed), so it can be removed.
    public static func isAbandonedTemporary(_ name: String) -> Bool {
        guard let pid = temporaryOwner(ofFileNamed: name) else { return false }
        if pid == getpid() { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }
}

/// A crash-safe write failed.
public struct DurableFileError: UserFacingError {
    /// The file being written.
    public let path: String
    /// What was being done (`write`, `rename X to`, ...).
    public let operation: String
    /// `errno`.
    public let code: Int32

    public var what: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }
    public var hint: String? { "check that the folder exists, is writable and has free space" }
}
