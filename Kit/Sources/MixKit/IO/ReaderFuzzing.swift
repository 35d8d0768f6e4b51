import Foundation

/// One entry point per file reader of the SDK, run on arbitrary bytes the
/// way a user's file would be: the fuzz targets in `Fuzz/` call these, and
/// the test suite replays the saved corpus and crashers through the same
/// functions. Each must return (accepted or rejected with an error) and
/// never crash, hang or allocate without bound.
///
/// ```swift
/// let outcome = ReaderFuzzing.safeTensors(Array(try Data(contentsOf: url)))
/// if case .rejected(let message) = outcome { print(message) }
/// ```
public enum ReaderFuzzing {
    public enum Outcome: Equatable, Sendable {
        /// Read whole; the number of tensors (or values) read.
        case accepted(Int)
        /// Refused with this message.
        case rejected(String)
    }

    /// The name given to fuzz inputs in messages.
    static let inputName = "fuzz-input"
    /// Limits that keep one input cheap: no tensor above 16 MiB, 64 MiB in all.
    static let options = PyTorchReadOptions(maxTensorBytes: 16 << 20, maxTotalBytes: 64 << 20)

    /// The names of the targets, as `Fuzz/` and `scripts/fuzz` know them.
    public static let targets = ["safetensors", "pytorch", "pickle"]

    /// Runs target `name` on `bytes`; nil for an unknown target.
    public static func run(_ name: String, _ bytes: [UInt8]) -> Outcome? {
        switch name {
        case "safetensors": return safeTensors(bytes)
        case "pytorch": return pyTorch(bytes)
        case "pickle": return pickle(bytes)
        default: return nil
        }
    }

    /// The safetensors reader: header checks, then every tensor read raw and as float32.
    public static func safeTensors(_ bytes: [UInt8]) -> Outcome {
        outcome {
            let file = try SafeTensorsFile(bytes: InputBytes(copying: bytes, path: inputName))
            for name in file.names {
                let raw = try file.raw(name)
                _ = try file.tensor(name)
                if raw.dtype.isInteger { _ = try file.integers(name) }
            }
            return file.names.count
        }
    }

    /// The PyTorch reader (zip or legacy, pickle, storages, views): accepted
    /// when the file parses; then every candidate state dict is read by key
    /// (each tensor also as float32), the automatic choice is made, and the
    /// whole value is described. Returns the number of tensors read.
    public static func pyTorch(_ bytes: [UInt8]) -> Outcome {
        outcome {
            let checkpoint = try PyTorchCheckpoint(bytes: InputBytes(copying: bytes, path: inputName), options: options)
            _ = checkpoint.value.description
            var read = 0
            for candidate in checkpoint.candidates {
                guard let weights = try? checkpoint.stateDict(key: candidate.key) else { continue }
                for name in weights.names { _ = try? weights.tensor(name) }
                read += weights.names.count
            }
            _ = try? checkpoint.stateDict()
            return read
        }
    }

    /// The pickle machine alone.
    public static func pickle(_ bytes: [UInt8]) -> Outcome {
        outcome {
            let value = try Pickle.load(bytes)
            return value.description.count
        }
    }

    private static func outcome(_ body: () throws -> Int) -> Outcome {
        do {
            return .accepted(try body())
        } catch {
            return .rejected(String(describing: error))
        }
    }
}
