import Foundation

/// Named tensors from a file, whatever its format: what loading weights
/// needs (names, shapes, float32 values) and what converting files needs
/// (exact dtypes and bytes).
///
/// ```swift
/// let weights = try WeightsFile.open("mixmim_base.pth")        // or .safetensors
/// for name in weights.names where weights.shape(of: name) == [768] { ... }
/// try model.load(stateDict: try weights.tensors(), strict: true)
/// ```
public protocol TensorSource {
    /// The file, for messages.
    var path: String { get }
    /// The tensor names.
    var names: [String] { get }
    /// String metadata (safetensors `__metadata__`; empty for PyTorch files).
    var metadata: [String: String] { get }
    func shape(of name: String) -> [Int]?
    func dtype(of name: String) -> SafeTensorsDType?
    /// The tensor as float32 (other dtypes converted).
    func tensor(_ name: String) throws -> Tensor
    /// The tensor exactly as stored.
    func raw(_ name: String) throws -> RawTensor
}

extension TensorSource {
    /// Every tensor as float32, by name.
    public func tensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in names { out[name] = try tensor(name) }
        return out
    }

    /// Every tensor with its own dtype, ready for ``SafeTensors/write(_:metadata:to:atomic:)``.
    public func safeTensorsValues() throws -> [String: SafeTensorsValue] {
        var out: [String: SafeTensorsValue] = [:]
        for name in names { out[name] = .raw(try raw(name)) }
        return out
    }
}

extension SafeTensorsFile: TensorSource {
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }
    public func dtype(of name: String) -> SafeTensorsDType? { entries[name]?.dtype }
}

/// Opens weights in any format mixmae reads, chosen by the file's first
/// bytes (not its name): a PyTorch checkpoint (zip or legacy pickle) or a
/// safetensors file. Only regular files are opened.
///
/// ```swift
/// let weights = try WeightsFile.open(path, key: recipe.initKey)   // key: PyTorch state dict key, if any
/// let w = try weights.tensor("patch_embed.proj.weight")
/// ```
public enum WeightsFile {
    public enum Format: String, Sendable {
        case safetensors, pytorch
    }

    /// The format of the bytes: PyTorch when they start like a zip archive or
    /// a pickle (and not like safetensors), else safetensors.
    public static func format(of bytes: InputBytes) -> Format {
        let buffer = bytes.buffer
        if StoredZipArchive.looksLikeZip(buffer) { return .pytorch }
        if looksLikeSafeTensors(buffer) { return .safetensors }
        return buffer.first == 0x80 ? .pytorch : .safetensors
    }

    /// An 8-byte header length that fits the file, then '{'.
    static func looksLikeSafeTensors(_ buffer: UnsafeRawBufferPointer) -> Bool {
        guard buffer.count >= 10, buffer[8] == UInt8(ascii: "{") else { return false }
        let length = UInt64(littleEndian: buffer.loadUnaligned(as: UInt64.self))
        return length <= UInt64(buffer.count - 8)
    }

    /// Opens `path`; `key` chooses the state dict inside a PyTorch checkpoint
    /// (see ``PyTorchCheckpoint/stateDict(key:)``) and is ignored for safetensors.
    public static func open(_ path: String, key: String? = nil, options: PyTorchReadOptions = .init()) throws
        -> any TensorSource
    {
        let bytes: InputBytes
        do {
            bytes = try RegularFile.map(path, what: "weights file")
        } catch let error as InputFileError {
            throw SafeTensorsError(path: path, problem: error.problem)
        }
        switch format(of: bytes) {
        case .pytorch: return try PyTorchCheckpoint(bytes: bytes, options: options).stateDict(key: key)
        case .safetensors: return try SafeTensorsFile(bytes: bytes)
        }
    }
}
