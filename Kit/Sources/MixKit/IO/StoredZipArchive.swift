import Foundation

/// A read-only view of a zip archive whose entries are stored uncompressed,
/// as `torch.save` writes them, over bytes already in memory (usually a
/// mapped file, so a multi-gigabyte checkpoint is never copied whole).
///
/// It reads the central directory (ZIP64 records included), checks every
/// offset and size against the bytes with overflow-safe arithmetic, and
/// hands out an entry's bytes after checking its local header and CRC-32.
/// Compressed, encrypted and multi-disk archives are refused with a reason.
///
/// A hand-written reader rather than a zip library because it reads in place
/// from the mapping (no copy), needs no dependency in libMixKit.so (which
/// every plugin links), and is small enough to be fuzzed in this repository
/// (`Fuzz/`): PyTorch only ever writes stored entries.
struct StoredZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var flags: UInt16
        var crc32: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    /// Why the archive cannot be read; the caller adds the file name.
    struct Failure: Error {
        var problem: String
    }

    let bytes: UnsafeRawBufferPointer
    private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    static let localHeaderSignature: UInt32 = 0x0403_4b50
    static let centralHeaderSignature: UInt32 = 0x0201_4b50
    static let endSignature: UInt32 = 0x0605_4b50
    static let zip64EndSignature: UInt32 = 0x0606_4b50
    static let zip64LocatorSignature: UInt32 = 0x0706_4b50

    /// True when `bytes` starts like a zip archive.
    static func looksLikeZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && ByteReader(bytes).u32(at: 0) == localHeaderSignature
    }

    init(bytes: UnsafeRawBufferPointer) throws {
        self.bytes = bytes
        let reader = ByteReader(bytes)
        let end = try Self.findEnd(reader)
        var entryCount = Int(reader.u16(at: end + 10)!)
        var directorySize = Int(reader.u32(at: end + 12)!)
        var directoryOffset = Int(reader.u32(at: end + 16)!)
        guard reader.u16(at: end + 4) == 0, reader.u16(at: end + 6) == 0 else {
            throw Failure(problem: "it is a multi-disk (spanned) zip archive, which PyTorch never writes")
        }
        if end >= 20, reader.u32(at: end - 20) == Self.zip64LocatorSignature {
            guard let offset64 = reader.u64(at: end - 12), let record = Int(exactly: offset64),
                reader.u32(at: record) == Self.zip64EndSignature,
                let count64 = reader.u64(at: record + 32), let size64 = reader.u64(at: record + 40),
                let start64 = reader.u64(at: record + 48)
            else {
                throw Failure(problem: "its ZIP64 end record is missing or cut off (the file is truncated or damaged)")
            }
            guard let count = Int(exactly: count64), let size = Int(exactly: size64), let start = Int(exactly: start64)
            else {
                throw Failure(problem: "its ZIP64 end record holds sizes beyond 64-bit offsets")
            }
            (entryCount, directorySize, directoryOffset) = (count, size, start)
        }
        guard CheckedSize.rangeFits(offset: directoryOffset, length: directorySize, in: end) else {
            throw Failure(
                problem:
                    "its central directory (\(directorySize) bytes at offset \(directoryOffset)) lies outside the \(bytes.count) bytes before the end record (the file is truncated or damaged)"
            )
        }
        guard let minimum = CheckedSize.multiply(entryCount, 46), minimum <= directorySize else {
            throw Failure(
                problem:
                    "its end record claims \(entryCount) entries, more than its \(directorySize)-byte directory holds")
        }
        var position = directoryOffset
        for number in 0..<entryCount {
            let entry = try Self.readCentralEntry(reader, at: &position, limit: directoryOffset + directorySize, number)
            guard index[entry.name] == nil else {
                throw Failure(problem: "it names the entry '\(entry.name)' twice")
            }
            index[entry.name] = entries.count
            entries.append(entry)
        }
    }

    /// The entry called `name`, if any.
    func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The bytes of `entry`, after checking its local header, its bounds and
    /// (when `verify` is set) its CRC-32.
    func contents(of entry: Entry, verify: Bool = true) throws -> UnsafeRawBufferPointer {
        let reader = ByteReader(bytes)
        guard entry.flags & 1 == 0 else {
            throw Failure(problem: "entry '\(entry.name)' is encrypted")
        }
        guard entry.method == 0 else {
            let kind = entry.method == 8 ? "deflate" : "method \(entry.method)"
            throw Failure(
                problem:
                    "entry '\(entry.name)' is compressed (\(kind)); torch.save stores entries uncompressed: was the file re-zipped? Unzip it and zip it again with `zip -0`, or save it again with torch.save"
            )
        }
        guard entry.compressedSize == entry.size else {
            throw Failure(
                problem:
                    "entry '\(entry.name)' is stored but its sizes differ (\(entry.compressedSize) stored, \(entry.size) declared)"
            )
        }
        let at = entry.localHeaderOffset
        guard reader.u32(at: at) == Self.localHeaderSignature, let nameLength = reader.u16(at: at + 26),
            let extraLength = reader.u16(at: at + 28)
        else {
            throw Failure(problem: "entry '\(entry.name)' has no local header at offset \(at) (the file is damaged)")
        }
        guard let start = CheckedSize.add(at, 30 + Int(nameLength) + Int(extraLength)),
            CheckedSize.rangeFits(offset: start, length: entry.size, in: bytes.count)
        else {
            throw Failure(
                problem:
                    "entry '\(entry.name)' (\(entry.size) bytes at offset \(at)) runs past the end of the file (\(bytes.count) bytes): the file is truncated"
            )
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + entry.size)])
        if verify {
            let actual = CRC32.checksum(data)
            guard actual == entry.crc32 else {
                throw Failure(
                    problem:
                        "entry '\(entry.name)' fails its CRC-32 check (stored \(String(entry.crc32, radix: 16)), computed \(String(actual, radix: 16))): the file is damaged; download or copy it again"
                )
            }
        }
        return data
    }

    /// Where the end-of-central-directory record starts: searched backwards
    /// over the last 64 KiB + 22 bytes (the record and its longest comment).
    private static func findEnd(_ reader: ByteReader) throws -> Int {
        let count = reader.bytes.count
        guard count >= 22 else {
            throw Failure(problem: "it is \(count) bytes, too short for a zip archive (truncated?)")
        }
        var position = count - 22
        let lowest = max(0, count - 22 - 0xFFFF)
        while position >= lowest {
            if reader.u32(at: position) == endSignature, let comment = reader.u16(at: position + 20),
                position + 22 + Int(comment) <= count
            {
                return position
            }
            position -= 1
        }
        throw Failure(
            problem: "it starts like a zip archive but has no end-of-central-directory record: the file is truncated")
    }

    private static func readCentralEntry(_ reader: ByteReader, at position: inout Int, limit: Int, _ number: Int)
        throws -> Entry
    {
        let at = position
        guard reader.u32(at: at) == centralHeaderSignature, at + 46 <= limit, let flags = reader.u16(at: at + 8),
            let method = reader.u16(at: at + 10), let crc = reader.u32(at: at + 16),
            let compressed32 = reader.u32(at: at + 20), let size32 = reader.u32(at: at + 24),
            let nameLength = reader.u16(at: at + 28), let extraLength = reader.u16(at: at + 30),
            let commentLength = reader.u16(at: at + 32), let disk = reader.u16(at: at + 34),
            let offset32 = reader.u32(at: at + 42)
        else {
            throw Failure(problem: "central directory entry \(number) at offset \(at) is damaged")
        }
        let nameStart = at + 46
        let extraStart = nameStart + Int(nameLength)
        let next = extraStart + Int(extraLength) + Int(commentLength)
        guard next <= limit else {
            throw Failure(problem: "central directory entry \(number) at offset \(at) runs past the directory")
        }
        let nameBytes = UnsafeRawBufferPointer(rebasing: reader.bytes[nameStart..<extraStart])
        let name = String(decoding: nameBytes, as: UTF8.self)
        var compressed = Int(compressed32)
        var size = Int(size32)
        var offset = Int(offset32)
        var diskStart = Int(disk)
        // ZIP64: each 32-bit field that is all ones is in the extra field 0x0001, in this order.
        var extra = extraStart
        let extraEnd = extraStart + Int(extraLength)
        while extra + 4 <= extraEnd {
            let id = reader.u16(at: extra)!
            let length = Int(reader.u16(at: extra + 2)!)
            let body = extra + 4
            guard body + length <= extraEnd else { break }
            if id == 1 {
                var field = body
                func next64() throws -> Int {
                    guard field + 8 <= body + length, let v = reader.u64(at: field), let value = Int(exactly: v) else {
                        throw Failure(problem: "entry '\(name)' has a damaged ZIP64 extra field")
                    }
                    field += 8
                    return value
                }
                if size32 == 0xFFFF_FFFF { size = try next64() }
                if compressed32 == 0xFFFF_FFFF { compressed = try next64() }
                if offset32 == 0xFFFF_FFFF { offset = try next64() }
                if disk == 0xFFFF {
                    guard field + 4 <= body + length else {
                        throw Failure(problem: "entry '\(name)' has a damaged ZIP64 extra field")
                    }
                    diskStart = Int(reader.u32(at: field)!)
                }
            }
            extra = body + length
        }
        guard diskStart == 0 else {
            throw Failure(problem: "entry '\(name)' starts on disk \(diskStart) of a multi-disk archive")
        }
        position = next
        return Entry(
            name: name, method: method, flags: flags, crc32: crc, compressedSize: compressed, size: size,
            localHeaderOffset: offset)
    }
}

/// Little-endian reads that return nil instead of reading out of bounds.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func u16(at offset: Int) -> UInt16? { load(offset, UInt16.self).map { UInt16(littleEndian: $0) } }
    func u32(at offset: Int) -> UInt32? { load(offset, UInt32.self).map { UInt32(littleEndian: $0) } }
    func u64(at offset: Int) -> UInt64? { load(offset, UInt64.self).map { UInt64(littleEndian: $0) } }

    private func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T? {
        guard CheckedSize.rangeFits(offset: offset, length: MemoryLayout<T>.size, in: bytes.count),
            let base = bytes.baseAddress
        else { return nil }
        return base.loadUnaligned(fromByteOffset: offset, as: T.self)
    }
}

/// CRC-32 (the zip polynomial), slicing by eight bytes at a time.
enum CRC32 {
    /// Eight 256-entry tables, one after another: table k advances a byte k positions further.
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[i] = c
        }
        for k in 1..<8 {
            for i in 0..<256 { t[k * 256 + i] = (t[(k - 1) * 256 + i] >> 8) ^ t[Int(t[(k - 1) * 256 + i] & 0xFF)] }
        }
        return t
    }()

    static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = data.baseAddress else { return 0 }
        return table.withUnsafeBufferPointer { t -> UInt32 in
            var crc: UInt32 = 0xFFFF_FFFF
            var i = 0
            let n = data.count
            while i + 8 <= n {
                let lo = crc ^ UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                let hi = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                crc =
                    t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                crc = t[Int((crc ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
            return ~crc
        }
    }
}
