import Foundation
import MixKit

/// Hand-assembles pickles opcode by opcode, so that tests control exactly
/// which opcodes a reader sees.
struct PickleBuilder {
    var bytes: [UInt8] = []

    init(protocol version: UInt8? = 2) {
        if let version { bytes = [0x80, version] }
    }

    mutating func op(_ code: UInt8, _ argument: [UInt8] = []) {
        bytes.append(code)
        bytes += argument
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    mutating func mark() { op(0x28) }
    mutating func stop() { op(0x2E) }
    mutating func none() { op(0x4E) }
    mutating func bool(_ b: Bool) { op(b ? 0x88 : 0x89) }

    /// BININT1, BININT2, BININT or LONG1 as the value needs.
    mutating func int(_ v: Int) {
        if (0..<256).contains(v) {
            op(0x4B, [UInt8(v)])
        } else if (0..<65536).contains(v) {
            op(0x4D, Self.le(UInt16(v)))
        } else if let small = Int32(exactly: v) {
            op(0x4A, Self.le(small))
        } else {
            long1(Self.le(Int64(v)))
        }
    }

    mutating func long1(_ digits: [UInt8]) { op(0x8A, [UInt8(digits.count)] + digits) }
    mutating func float(_ v: Double) { op(0x47, withUnsafeBytes(of: v.bitPattern.bigEndian) { Array($0) }) }
    /// BINUNICODE.
    mutating func string(_ s: String) { op(0x58, Self.le(UInt32(s.utf8.count)) + Array(s.utf8)) }
    mutating func shortString(_ s: String) { op(0x8C, [UInt8(s.utf8.count)] + Array(s.utf8)) }
    mutating func global(_ module: String, _ name: String) { op(0x63, Array("\(module)\n\(name)\n".utf8)) }
    mutating func stackGlobal(_ module: String, _ name: String) {
        shortString(module)
        shortString(name)
        op(0x93)
    }
    mutating func emptyTuple() { op(0x29) }
    mutating func tuple() { op(0x74) }
    mutating func tuple1() { op(0x85) }
    mutating func tuple2() { op(0x86) }
    mutating func tuple3() { op(0x87) }
    mutating func emptyDict() { op(0x7D) }
    mutating func emptyList() { op(0x5D) }
    mutating func setItem() { op(0x73) }
    mutating func setItems() { op(0x75) }
    mutating func append() { op(0x61) }
    mutating func appends() { op(0x65) }
    mutating func reduce() { op(0x52) }
    mutating func newObj() { op(0x81) }
    mutating func build() { op(0x62) }
    mutating func binPut(_ i: UInt8) { op(0x71, [i]) }
    mutating func binGet(_ i: UInt8) { op(0x68, [i]) }
    mutating func memoize() { op(0x94) }
    mutating func binPersId() { op(0x51) }

    /// A tuple of small integers (sizes, strides).
    mutating func intTuple(_ values: [Int]) {
        mark()
        for v in values { int(v) }
        tuple()
    }

    /// `collections.OrderedDict()`.
    mutating func emptyOrderedDict() {
        global("collections", "OrderedDict")
        emptyTuple()
        reduce()
    }

    /// The persistent id of a storage: ('storage', torch.<type>, key, 'cpu', count[, view]).
    mutating func storage(_ type: String, key: String, count: Int, legacyView: (String, Int, Int)?? = nil) {
        mark()
        string("storage")
        global("torch", type)
        string(key)
        string("cpu")
        int(count)
        if let view = legacyView {
            if let (viewKey, offset, size) = view {
                string(viewKey)
                int(offset)
                int(size)
                tuple3()
            } else {
                none()
            }
        }
        tuple()
        binPersId()
    }

    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    mutating func tensor(
        _ type: String, key: String, count: Int, offset: Int = 0, shape: [Int], strides: [Int],
        legacyView: (String, Int, Int)?? = nil
    ) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        storage(type, key: key, count: count, legacyView: legacyView)
        int(offset)
        intTuple(shape)
        intTuple(strides)
        bool(false)
        emptyOrderedDict()
        tuple()
        reduce()
    }

    /// `{name: tensor, ...}` from closures that push each value.
    mutating func dict(_ items: [(String, (inout PickleBuilder) -> Void)]) {
        emptyDict()
        mark()
        for (key, value) in items {
            string(key)
            value(&self)
        }
        setItems()
    }
}

/// Writes zip archives of stored entries, ZIP64 records on request: an
/// independent writer to test the reader against.
struct ZipBuilder {
    struct Entry {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var crcOverride: UInt32?
    }

    var entries: [Entry] = []
    var zip64 = false

    mutating func add(_ name: String, _ data: [UInt8], method: UInt16 = 0, crc: UInt32? = nil) {
        entries.append(Entry(name: name, data: data, method: method, crcOverride: crc))
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in data {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { PickleBuilder.le(v) }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for entry in entries {
            let offset = out.count
            let crc = entry.crcOverride ?? Self.crc32(entry.data)
            let name = Array(entry.name.utf8)
            let size32: UInt32 = zip64 ? 0xFFFF_FFFF : UInt32(entry.data.count)
            out += Self.le(UInt32(0x0403_4b50)) + Self.le(UInt16(zip64 ? 45 : 20)) + Self.le(UInt16(0))
            out += Self.le(entry.method) + Self.le(UInt32(0)) + Self.le(crc) + Self.le(size32) + Self.le(size32)
            let localExtra: [UInt8] =
                zip64
                ? Self.le(UInt16(1)) + Self.le(UInt16(16)) + Self.le(UInt64(entry.data.count))
                    + Self.le(UInt64(entry.data.count)) : []
            out += Self.le(UInt16(name.count)) + Self.le(UInt16(localExtra.count)) + name + localExtra
            out += entry.data
            let extra: [UInt8] =
                zip64
                ? Self.le(UInt16(1)) + Self.le(UInt16(24)) + Self.le(UInt64(entry.data.count))
                    + Self.le(UInt64(entry.data.count)) + Self.le(UInt64(offset)) : []
            central += Self.le(UInt32(0x0201_4b50)) + Self.le(UInt16(0x031E)) + Self.le(UInt16(zip64 ? 45 : 20))
            central += Self.le(UInt16(0)) + Self.le(entry.method) + Self.le(UInt32(0)) + Self.le(crc)
            central += Self.le(size32) + Self.le(size32) + Self.le(UInt16(name.count)) + Self.le(UInt16(extra.count))
            central += Self.le(UInt16(0)) + Self.le(UInt16(0)) + Self.le(UInt16(0)) + Self.le(UInt32(0))
            central += Self.le(zip64 ? UInt32(0xFFFF_FFFF) : UInt32(offset)) + name + extra
        }
        let directoryOffset = out.count
        out += central
        if zip64 {
            let record = out.count
            out += Self.le(UInt32(0x0606_4b50)) + Self.le(UInt64(44)) + Self.le(UInt16(45)) + Self.le(UInt16(45))
            out += Self.le(UInt32(0)) + Self.le(UInt32(0)) + Self.le(UInt64(entries.count))
            out += Self.le(UInt64(entries.count)) + Self.le(UInt64(central.count)) + Self.le(UInt64(directoryOffset))
            out += Self.le(UInt32(0x0706_4b50)) + Self.le(UInt32(0)) + Self.le(UInt64(record)) + Self.le(UInt32(1))
            out += Self.le(UInt32(0x0605_4b50)) + Self.le(UInt16(0)) + Self.le(UInt16(0))
            out += Self.le(UInt16(0xFFFF)) + Self.le(UInt16(0xFFFF)) + Self.le(UInt32(0xFFFF_FFFF))
            out += Self.le(UInt32(0xFFFF_FFFF)) + Self.le(UInt16(0))
        } else {
            out += Self.le(UInt32(0x0605_4b50)) + Self.le(UInt16(0)) + Self.le(UInt16(0))
            out += Self.le(UInt16(entries.count)) + Self.le(UInt16(entries.count)) + Self.le(UInt32(central.count))
            out += Self.le(UInt32(directoryOffset)) + Self.le(UInt16(0))
        }
        return out
    }

    /// A torch.save-style archive: `<prefix>/data.pkl`, `byteorder`, `data/<key>` storages.
    static func torch(
        pickle: [UInt8], storages: [(String, [UInt8])], prefix: String = "archive", byteorder: String = "little",
        zip64: Bool = false
    ) -> [UInt8] {
        var zip = ZipBuilder()
        zip.zip64 = zip64
        zip.add("\(prefix)/data.pkl", pickle)
        zip.add("\(prefix)/byteorder", Array(byteorder.utf8))
        for (key, data) in storages { zip.add("\(prefix)/data/\(key)", data) }
        zip.add("\(prefix)/version", Array("3\n".utf8))
        return zip.bytes
    }
}

/// Little-endian bytes of float32 values.
func float32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { PickleBuilder.le($0.bitPattern) }
}
