import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Element types, named as the safetensors format names them. Float32 ``Tensor``s
/// are what models compute with; the other types are kept exactly by
/// ``RawTensor`` and converted to float32 when loaded into a model.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// True for the integer types and bool.
    public var isInteger: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return false
        default: return true
        }
    }
}

/// What is wrong with a safetensors file, always naming the file.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String

    public var description: String { "\(path): \(problem)" }
}

/// One entry to write: a float tensor, integer data with a shape, or a
/// ``RawTensor`` of any dtype (written with its own dtype).
public enum SafeTensorsValue {
    case float32(Tensor)
    case int64([Int64], shape: [Int])
    case int32([Int32], shape: [Int])
    case uint8([UInt8], shape: [Int])
    case raw(RawTensor)
}

/// A safetensors file opened by memory mapping: the header is parsed and
/// every size and offset in it checked at once (overflow-safe, inside the
/// file, in order, without overlaps or gaps); tensor data is read from the
/// mapping when asked for. Only regular files are opened.
///
/// ```swift
/// let file = try SafeTensorsFile(path: "weights.safetensors")
/// let w = try file.tensor("patch_embed.proj.weight")     // float32, any dtype converted
/// let labels = try file.integers("labels")               // integer types as [Int]
/// let index = try file.raw("relative_position_index")    // exact dtype and bytes
/// ```
public final class SafeTensorsFile {
    public struct Entry: Sendable, Equatable {
        public var dtype: SafeTensorsDType
        public var shape: [Int]
        public var begin: Int
        public var end: Int
    }

    /// The safetensors format's limit on the JSON header.
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    /// Entries by name.
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    private let bytes: InputBytes
    private let dataStart: Int

    /// Maps and checks the file at `path`.
    public convenience init(path: String) throws {
        let bytes: InputBytes
        do {
            bytes = try RegularFile.map(path, what: "safetensors file")
        } catch let error as InputFileError {
            throw SafeTensorsError(path: path, problem: error.problem)
        }
        try self.init(bytes: bytes)
    }

    /// Checks `bytes` (a mapped file or a copy in memory) as a safetensors file.
    public init(bytes: InputBytes) throws {
        path = bytes.path
        self.bytes = bytes
        let header = try SafeTensorsHeader(bytes: bytes.buffer, path: bytes.path)
        entries = header.entries
        metadata = header.metadata
        dataStart = header.dataStart
    }

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

    private func data(_ e: Entry) -> UnsafeRawPointer? {
        bytes.buffer.baseAddress.map { $0 + dataStart + e.begin }
    }

    /// The tensor `name` as float32 (other dtypes converted); throws when the
    /// system cannot hold it.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        let t: Tensor
        do {
            t = try Tensor.allocate(shape: e.shape)
        } catch let error as TensorAllocationError {
            throw SafeTensorsError(path: path, problem: "tensor '\(name)': \(error.description)")
        }
        ElementConversion.toFloat32(data(e), e.dtype, count: t.count, into: t.data)
        return t
    }

    /// The integer (or bool) tensor `name` as Swift integers.
    public func integers(_ name: String) throws -> [Int] {
        let e = try entry(name)
        let n = (e.end - e.begin) / e.dtype.byteSize
        guard e.dtype.isInteger else {
            throw SafeTensorsError(path: path, problem: "tensor '\(name)' is \(e.dtype.rawValue), not an integer type")
        }
        guard let values = ElementConversion.toInt64(data(e), e.dtype, count: n) else {
            throw SafeTensorsError(path: path, problem: "tensor '\(name)' of U64 holds values beyond Int64")
        }
        return values.map { Int($0) }
    }

    /// The tensor `name` exactly as stored: dtype, shape and bytes.
    public func raw(_ name: String) throws -> RawTensor {
        let e = try entry(name)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: data(e), count: e.end - e.begin))
        return try RawTensor(dtype: e.dtype, shape: e.shape, bytes: bytes)
    }

    /// Every entry as a float32 tensor, by name.
    public func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in entries.keys { out[name] = try tensor(name) }
        return out
    }
}

/// The parsed and checked header of a safetensors file.
struct SafeTensorsHeader {
    var entries: [String: SafeTensorsFile.Entry] = [:]
    var metadata: [String: String] = [:]
    var dataStart = 0

    init(bytes: UnsafeRawBufferPointer, path: String) throws {
        func fail(_ problem: String) -> SafeTensorsError { SafeTensorsError(path: path, problem: problem) }
        let length = bytes.count
        guard length >= 8, let base = bytes.baseAddress else {
            throw fail("truncated: \(length) bytes, a safetensors file starts with an 8-byte header length")
        }
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(length - 8) else {
            throw fail(
                "bad header: it claims \(headerLength) bytes but the file has \(length - 8) after the length field (truncated or not a safetensors file)"
            )
        }
        let headerLen = Int(headerLength)
        guard headerLen <= SafeTensorsFile.maxHeaderBytes else {
            throw fail(
                "bad header: \(headerLen) bytes of JSON, more than the \(SafeTensorsFile.maxHeaderBytes) the format allows"
            )
        }
        guard headerLen >= 2, base.load(fromByteOffset: 8, as: UInt8.self) == UInt8(ascii: "{") else {
            throw fail("bad header: the JSON header does not start with '{' (not a safetensors file)")
        }
        dataStart = 8 + headerLen
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: Data(bytes: base + 8, count: headerLen))
        } catch let error as DecodingError {
            throw fail("bad header: \(Self.describe(error))")
        } catch {
            throw fail("bad header: not valid JSON (\(error))")
        }
        metadata = raw.metadata
        let dataLength = length - dataStart
        for (name, info) in raw.entries.sorted(by: { $0.key < $1.key }) {
            guard let dtype = SafeTensorsDType(rawValue: info.dtype) else {
                throw fail(
                    "tensor '\(name)' has dtype \(info.dtype), which mixmae does not read (it reads \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            guard info.shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("bad header: tensor '\(name)' has a negative dimension in shape \(info.shape)")
            }
            guard let expected = CheckedSize.byteCount(info.shape, elementSize: dtype.byteSize) else {
                throw fail(
                    "bad header: tensor '\(name)' of \(dtype.rawValue) \(info.shape) would need more than \(Int.max) bytes (the shape overflows 64-bit byte counts)"
                )
            }
            let offsets = info.offsets
            guard offsets.count == 2, offsets[0] >= 0, offsets[1] >= offsets[0] else {
                throw fail(
                    "bad header: tensor '\(name)' has data_offsets \(offsets); they must be [begin, end] with 0 <= begin <= end"
                )
            }
            guard offsets[1] - offsets[0] == expected else {
                throw fail(
                    "bad header: tensor '\(name)' of \(dtype.rawValue) \(info.shape) needs \(expected) bytes, its offsets \(offsets) span \(offsets[1] - offsets[0])"
                )
            }
            guard offsets[1] <= dataLength else {
                throw fail(
                    "tensor '\(name)' ends at byte \(offsets[1]) of the data, past its end (\(dataLength) bytes): the file is truncated"
                )
            }
            entries[name] = .init(dtype: dtype, shape: info.shape, begin: offsets[0], end: offsets[1])
        }
        try Self.checkLayout(entries, dataLength: dataLength, fail: fail)
    }

    /// The data must be the tensors' ranges one after another: no overlap, no
    /// gap, nothing after the last (as the format's reference reader requires).
    static func checkLayout(
        _ entries: [String: SafeTensorsFile.Entry], dataLength: Int, fail: (String) -> SafeTensorsError
    ) throws {
        let ordered = entries.sorted { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }
        var covered = 0
        var previous: String?
        for (name, e) in ordered {
            if e.begin < covered, let previous {
                throw fail(
                    "bad header: tensor '\(name)' (data bytes \(e.begin)..<\(e.end)) overlaps tensor '\(previous)' (which ends at \(covered))"
                )
            }
            if e.begin > covered {
                throw fail("bad header: data bytes \(covered)..<\(e.begin) belong to no tensor (before '\(name)')")
            }
            covered = e.end
            previous = name
        }
        if covered != dataLength {
            throw fail(
                "bad header: the tensors' data ends at byte \(covered) but the file has \(dataLength) bytes of data (the file is longer than its header says)"
            )
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func at(_ path: [CodingKey]) -> String {
            let keys = path.map { $0.intValue.map { "[\($0)]" } ?? "'\($0.stringValue)'" }
            return keys.isEmpty ? "" : " at " + keys.joined(separator: " ")
        }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            if c.codingPath.isEmpty, let underlying = c.underlyingError {
                return "not valid JSON (\(underlying))"
            }
            return
                "\(c.debugDescription)\(at(c.codingPath)); each tensor needs dtype, shape and data_offsets [begin, end] as integers, __metadata__ maps strings to strings"
        @unknown default:
            return "\(error)"
        }
    }

    /// The header as JSON gives it, before any check.
    private struct RawHeader: Decodable {
        var entries: [String: RawEntry] = [:]
        var metadata: [String: String] = [:]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == "__metadata__" {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try container.decode(RawEntry.self, forKey: key)
                }
            }
        }
    }

    private struct RawEntry: Decodable {
        var dtype: String
        var shape: [Int]
        var offsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case offsets = "data_offsets"
        }
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
            case .raw(let r): (dtype, shape, bytes) = (r.dtype.rawValue, r.shape, r.bytes.count)
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
            case .raw(let r): out.append(contentsOf: r.bytes)
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
