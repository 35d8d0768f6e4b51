import Foundation
import MixKit

/// libFuzzer's entry point: the safetensors reader on one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = ReaderFuzzing.safeTensors(bytes)
    return 0
}

@_silgen_name("LLVMFuzzerMutate")
func libFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

/// Structure-aware mutations: half of the time the JSON header is parsed and
/// one size, offset, dtype or the header length is set to a boundary value
/// (the coverage of Foundation's JSON parser does not guide libFuzzer there);
/// otherwise libFuzzer's own byte mutations.
@_cdecl("LLVMFuzzerCustomMutator")
public func fuzzMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var random = SplitMix(seed: UInt64(seed))
    if random.next() % 2 == 0,
        let mutated = HeaderMutation.mutate(Array(UnsafeBufferPointer(start: data, count: size)), &random),
        mutated.count <= maxSize
    {
        mutated.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: mutated.count) }
        return mutated.count
    }
    return libFuzzerMutate(data, size, maxSize)
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}

enum HeaderMutation {
    static let boundaries: [Int] = [
        0, 1, 2, 3, 4, 7, 8, -1, -8, 255, 65536, 1 << 31, 1 << 32, (1 << 32) - 1, 1 << 61, 1 << 62, Int.max, Int.min,
        Int.max / 2, Int.max / 4 + 1,
    ]
    static let dtypes = [
        "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL", "C64",
    ]

    static func mutate(_ bytes: [UInt8], _ random: inout SplitMix) -> [UInt8]? {
        guard bytes.count >= 8 else { return nil }
        guard
            let length = Int(
                exactly: UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })),
            length >= 2, length <= bytes.count - 8,
            var header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any]
        else { return nil }
        var data = Array(bytes[(8 + length)...])
        let names = header.keys.filter { $0 != "__metadata__" }.sorted()
        var lengthOverride: UInt64?
        switch random.next() % 7 {
        case 0, 1:
            guard let name = names.isEmpty ? nil : random.pick(names), var entry = header[name] as? [String: Any],
                var shape = entry["shape"] as? [Int]
            else { return nil }
            if shape.isEmpty || random.next() % 3 == 0 {
                shape.append(random.pick(boundaries))
            } else {
                shape[Int(random.next() % UInt64(shape.count))] = random.pick(boundaries)
            }
            entry["shape"] = shape
            header[name] = entry
        case 2, 3:
            guard let name = names.isEmpty ? nil : random.pick(names), var entry = header[name] as? [String: Any],
                var offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { return nil }
            let other = (header[random.pick(names)] as? [String: Any])?["data_offsets"] as? [Int] ?? [0, 0]
            switch random.next() % 4 {
            case 0: offsets[Int(random.next() % 2)] = random.pick(boundaries)
            case 1: offsets = other
            case 2: offsets = [offsets[1], offsets[0]]
            default: offsets[1] = offsets[0] &+ random.pick(boundaries)
            }
            entry["data_offsets"] = offsets
            header[name] = entry
        case 4:
            guard let name = names.isEmpty ? nil : random.pick(names), var entry = header[name] as? [String: Any]
            else { return nil }
            entry["dtype"] = random.pick(dtypes)
            header[name] = entry
        case 5:
            lengthOverride = UInt64(bitPattern: Int64(random.pick(boundaries)))
        default:
            if random.next() % 2 == 0 && !data.isEmpty {
                data.removeLast(Int(random.next() % UInt64(data.count)) + 1)
            } else {
                data += [UInt8](repeating: UInt8(truncatingIfNeeded: random.next()), count: Int(random.next() % 16))
            }
        }
        guard let json = try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) else { return nil }
        let newLength = lengthOverride ?? UInt64(json.count)
        return withUnsafeBytes(of: newLength.littleEndian) { Array($0) } + Array(json) + data
    }
}
