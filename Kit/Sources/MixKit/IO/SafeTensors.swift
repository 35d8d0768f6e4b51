import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The element types of the safetensors format that mixmae reads.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f64 = "F64"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case u8 = "U8"

    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i64, .f64: return 8
        case .u8: return 1
        }
    }
}

/// What is wrong with a safetensors file, always naming the file.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String

    public var description: String { "\(path): \(problem)" }
}

/// One entry to write: a float tensor or integer data with a shape.
public enum SafeTensorsValue {
    case float32(Tensor)
    case int64([Int64], shape: [Int])
    case int32([Int32], shape: [Int])
    case uint8([UInt8], shape: [Int])
}

/// A safetensors file opened by memory mapping: the header is parsed at once,
/// tensor data is read from the mapping when asked for.
///
/// ```swift
/// let file = try SafeTensorsFile(path: "weights.safetensors")
/// let w = try file.tensor("patch_embed.proj.weight")     // float32, any float dtype converted
/// let labels = try file.integers("labels")               // I64/I32/U8 as [Int]
/// ```
public final class SafeTensorsFile {
    public struct Entry: Sendable, Equatable {
        public var dtype: SafeTensorsDType
        public var shape: [Int]
        public var begin: Int
        public var end: Int
    }

    public let path: String
    /// Entries by name, in file order of their data.
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataStart: Int

    public init(path: String) throws {
        self.path = path
        func fail(_ problem: String) -> SafeTensorsError { SafeTensorsError(path: path, problem: problem) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw fail("cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("cannot stat: \(String(cString: strerror(errno)))") }
        let length = Int(st.st_size)
        guard length >= 8 else {
            throw fail("truncated: \(length) bytes, a safetensors file starts with an 8-byte header length")
        }
        guard let map = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw fail("cannot map: \(String(cString: strerror(errno)))")
        }
        let raw = UnsafeRawPointer(map)
        base = raw
        mappedLength = length
        var headerLength: UInt64 = 0
        memcpy(&headerLength, raw, 8)
        let headerLen = Int(UInt64(littleEndian: headerLength))
        guard headerLength <= UInt64(length - 8) else {
            munmap(map, length)
            throw fail(
                "bad header: it claims \(headerLength) bytes but the file has \(length - 8) after the length field (truncated or not a safetensors file)"
            )
        }
        dataStart = 8 + headerLen
        let headerData = Data(bytes: raw + 8, count: headerLen)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            munmap(map, length)
            throw fail("bad header: not valid JSON (\(error.localizedDescription))")
        }
        guard let dict = parsed as? [String: Any] else {
            munmap(map, length)
            throw fail("bad header: the JSON header is not an object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let dataLength = length - dataStart
        for (name, value) in dict {
            if name == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { metadata[k] = "\(v)" }
                }
                continue
            }
            guard let info = value as? [String: Any], let dt = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else {
                munmap(map, length)
                throw fail("bad header: entry '\(name)' needs dtype, shape and data_offsets [begin, end]")
            }
            guard let dtype = SafeTensorsDType(rawValue: dt) else {
                munmap(map, length)
                throw fail(
                    "tensor '\(name)' has dtype \(dt), which mixmae does not read (it reads \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            let expected = shape.reduce(1, *) * dtype.byteSize
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] - offsets[0] == expected else {
                munmap(map, length)
                throw fail(
                    "bad header: tensor '\(name)' of \(dt) \(shape) needs \(expected) bytes, its offsets \(offsets) span \(offsets[1] - offsets[0])"
                )
            }
            guard offsets[1] <= dataLength else {
                munmap(map, length)
                throw fail(
                    "tensor '\(name)' ends at byte \(offsets[1]) of the data, past its end (\(dataLength) bytes): the file is truncated"
                )
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    private func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else {
            throw SafeTensorsError(
                path: path,
                problem:
                    "no tensor named '\(name)' (the file has \(entries.count): \(names.prefix(8).joined(separator: ", "))\(entries.count > 8 ? ", ..." : ""))"
            )
        }
        return e
    }

    /// The tensor `name` as float32 (F16, BF16 and integer types converted).
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        let n = e.shape.reduce(1, *)
        let t = Tensor(uninitializedShape: e.shape)
        let src = base + dataStart + e.begin
        switch e.dtype {
        case .f32:
            memcpy(t.data, src, n * 4)
        case .f16:
            for i in 0..<n {
                var bits: UInt16 = 0
                memcpy(&bits, src + 2 * i, 2)
                t.data[i] = Float(Float16(bitPattern: UInt16(littleEndian: bits)))
            }
        case .f64:
            for i in 0..<n {
                var bits: UInt64 = 0
                memcpy(&bits, src + 8 * i, 8)
                t.data[i] = Float(Double(bitPattern: UInt64(littleEndian: bits)))
            }
        case .bf16:
            for i in 0..<n {
                var bits: UInt16 = 0
                memcpy(&bits, src + 2 * i, 2)
                t.data[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bits)) << 16)
            }
        case .i64, .i32, .u8:
            let ints = try integers(name)
            for i in 0..<n { t.data[i] = Float(ints[i]) }
        }
        return t
    }

    /// The integer tensor `name` (I64, I32 or U8) as Swift integers.
    public func integers(_ name: String) throws -> [Int] {
        let e = try entry(name)
        let n = e.shape.reduce(1, *)
        let src = base + dataStart + e.begin
        switch e.dtype {
        case .i64:
            return (0..<n).map { i in
                var v: Int64 = 0
                memcpy(&v, src + 8 * i, 8)
                return Int(Int64(littleEndian: v))
            }
        case .i32:
            return (0..<n).map { i in
                var v: Int32 = 0
                memcpy(&v, src + 4 * i, 4)
                return Int(Int32(littleEndian: v))
            }
        case .u8:
            return (0..<n).map { Int(src.load(fromByteOffset: $0, as: UInt8.self)) }
        default:
            throw SafeTensorsError(path: path, problem: "tensor '\(name)' is \(e.dtype.rawValue), not an integer type")
        }
    }

    /// Every entry as a float32 tensor, by name.
    public func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in entries.keys { out[name] = try tensor(name) }
        return out
    }
}

/// Writing safetensors files.
public enum SafeTensors {
    /// Writes `values` to `path`; atomically by default: a temporary file in
    /// the same folder, fsync, then rename, so the file is either whole or absent.
    ///
    /// ```swift
    /// try SafeTensors.write(["weight": .float32(w)], metadata: ["step": "100"], to: "ckpt.safetensors")
    /// ```
    public static func write(
        _ values: [String: SafeTensorsValue], metadata: [String: String] = [:], to path: String, atomic: Bool = true
    ) throws {
        let names = values.keys.sorted()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        var blobs: [(Int, SafeTensorsValue)] = []
        for name in names {
            let value = values[name]!
            let (dtype, shape, bytes): (String, [Int], Int)
            switch value {
            case .float32(let t): (dtype, shape, bytes) = ("F32", t.shape, t.count * 4)
            case .int64(let v, let s):
                precondition(
                    v.count == s.reduce(1, *), "SafeTensors.write: '\(name)' has \(v.count) values for shape \(s)")
                (dtype, shape, bytes) = ("I64", s, v.count * 8)
            case .int32(let v, let s):
                precondition(
                    v.count == s.reduce(1, *), "SafeTensors.write: '\(name)' has \(v.count) values for shape \(s)")
                (dtype, shape, bytes) = ("I32", s, v.count * 4)
            case .uint8(let v, let s):
                precondition(
                    v.count == s.reduce(1, *), "SafeTensors.write: '\(name)' has \(v.count) values for shape \(s)")
                (dtype, shape, bytes) = ("U8", s, v.count)
            }
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]]
            blobs.append((bytes, value))
            offset += bytes
        }
        var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        var len = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        for (bytes, value) in blobs {
            switch value {
            case .float32(let t): out.append(UnsafeBufferPointer(start: t.data, count: t.count))
            case .int64(let v, _): v.withUnsafeBytes { out.append(contentsOf: $0) }
            case .int32(let v, _): v.withUnsafeBytes { out.append(contentsOf: $0) }
            case .uint8(let v, _): out.append(contentsOf: v)
            }
            _ = bytes
        }
        try AtomicFile.write(out, to: path, atomic: atomic)
    }

    /// Float tensors only.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        try write(tensors.mapValues { .float32($0) }, metadata: metadata, to: path)
    }
}

/// Whole-or-nothing file writes: temporary file, fsync, rename, fsync of the folder.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var description: String { "cannot write \(path): \(problem)" }
    }

    public static func write(_ data: Data, to path: String, atomic: Bool = true) throws {
        let target = atomic ? path + ".tmp-\(getpid())" : path
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw WriteError(path: path, problem: String(cString: strerror(errno))) }
        var ok = true
        var problem = ""
        data.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false
                    problem = String(cString: strerror(errno))
                    return
                }
                done += n
            }
        }
        if ok && fsync(fd) != 0 {
            ok = false
            problem = "fsync failed: " + String(cString: strerror(errno))
        }
        close(fd)
        guard ok else {
            unlink(target)
            throw WriteError(path: path, problem: problem + (atomic ? " (nothing was replaced)" : ""))
        }
        if atomic {
            guard rename(target, path) == 0 else {
                let p = String(cString: strerror(errno))
                unlink(target)
                throw WriteError(path: path, problem: "rename failed: \(p)")
            }
            let dir = (path as NSString).deletingLastPathComponent
            let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
            if dfd >= 0 {
                fsync(dfd)
                close(dfd)
            }
        }
    }
}
