import Foundation

/// A tensor of any element type as a file holds it: dtype, shape and the
/// row-major, contiguous, little-endian bytes. Readers return it so that
/// integer and half-precision tensors survive a round trip unchanged (an
/// `I64` `relative_position_index` stays `I64`); ``float32()`` converts it
/// for a model, which computes in float32.
///
/// ```swift
/// let index = try RawTensor(dtype: .i64, shape: [2], bytes: [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])
/// index.integers()            // [1, 2]
/// try index.float32().scalars // [1.0, 2.0]
/// ```
public struct RawTensor: Equatable, Sendable, CustomStringConvertible {
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// `count * dtype.byteSize` bytes, little-endian, row-major.
    public let bytes: [UInt8]

    /// What is wrong with the bytes given for a shape.
    public struct SizeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Checks that `bytes` holds exactly the elements of `shape`.
    public init(dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8]) throws {
        guard let expected = CheckedSize.byteCount(shape, elementSize: dtype.byteSize) else {
            throw SizeError(description: "shape \(shape) of \(dtype.rawValue) is negative or too large")
        }
        guard expected == bytes.count else {
            throw SizeError(
                description: "\(dtype.rawValue) \(shape) needs \(expected) bytes, \(bytes.count) were given")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A float32 copy of `tensor`.
    public init(_ tensor: Tensor) {
        dtype = .f32
        shape = tensor.shape
        bytes = [UInt8](UnsafeRawBufferPointer(start: tensor.data, count: tensor.count * 4))
    }

    /// An I64 tensor of `values`.
    public init(int64 values: [Int64], shape: [Int]) throws {
        let bytes = values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        try self.init(dtype: .i64, shape: shape, bytes: bytes)
    }

    /// The number of elements.
    public var count: Int { bytes.count / dtype.byteSize }

    /// The values as a float32 ``Tensor`` (integers and bool as 0/1 converted,
    /// F64 rounded); throws when the system cannot hold the tensor.
    public func float32() throws -> Tensor {
        let t = try Tensor.allocate(shape: shape)
        bytes.withUnsafeBytes { ElementConversion.toFloat32($0.baseAddress, dtype, count: count, into: t.data) }
        return t
    }

    /// The values of an integer or bool tensor, nil for floating types and
    /// for U64 values beyond Int64.
    public func integers() -> [Int64]? {
        guard dtype.isInteger else { return nil }
        return bytes.withUnsafeBytes { ElementConversion.toInt64($0.baseAddress, dtype, count: count) }
    }

    public var description: String { "\(dtype.rawValue) \(shape)" }
}

/// Little-endian element conversions shared by the readers.
enum ElementConversion {
    /// Converts `count` elements at `src` to float32 at `dst`.
    static func toFloat32(
        _ src: UnsafeRawPointer?, _ dtype: SafeTensorsDType, count: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        guard count > 0, let src else { return }
        switch dtype {
        case .f32 where 1.littleEndian == 1:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case .f32:
            for i in 0..<count {
                dst[i] = Float(
                    bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        case .f64:
            for i in 0..<count {
                let bits = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                dst[i] = Float(Double(bitPattern: bits))
            }
        case .f16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                dst[i] = Float(Float16(bitPattern: bits))
            }
        case .bf16:
            for i in 0..<count {
                let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                dst[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .i64:
            for i in 0..<count {
                dst[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
            }
        case .u64:
            for i in 0..<count {
                dst[i] = Float(UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            }
        case .i32:
            for i in 0..<count {
                dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            }
        case .u32:
            for i in 0..<count {
                dst[i] = Float(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        case .i16:
            for i in 0..<count {
                dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
            }
        case .u16:
            for i in 0..<count {
                dst[i] = Float(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .i8:
            for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case .u8:
            for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool:
            for i in 0..<count { dst[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        }
    }

    /// The integer elements at `src`; nil for floating types or U64 values beyond Int64.
    static func toInt64(_ src: UnsafeRawPointer?, _ dtype: SafeTensorsDType, count: Int) -> [Int64]? {
        guard dtype.isInteger else { return nil }
        guard count > 0, let src else { return [] }
        var out = [Int64](repeating: 0, count: count)
        for i in 0..<count {
            switch dtype {
            case .i64: out[i] = Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
            case .u64:
                let v = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                guard let exact = Int64(exactly: v) else { return nil }
                out[i] = exact
            case .i32: out[i] = Int64(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
            case .u32: out[i] = Int64(UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            case .i16: out[i] = Int64(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
            case .u16: out[i] = Int64(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            case .i8: out[i] = Int64(src.load(fromByteOffset: i, as: Int8.self))
            case .u8: out[i] = Int64(src.load(fromByteOffset: i, as: UInt8.self))
            case .bool: out[i] = src.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0
            case .f64, .f32, .f16, .bf16: return nil
            }
        }
        return out
    }
}
