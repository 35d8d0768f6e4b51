import Foundation

/// Limits and allowances for reading PyTorch files.
public struct PyTorchReadOptions: Sendable {
    /// Extra classes (`module.name`) to read as opaque data, as
    /// `argparse.Namespace` is by default; nothing of them is ever called.
    public var dataClasses: Set<String>
    /// The largest tensor (contiguous bytes) a state dict may give.
    public var maxTensorBytes: Int
    /// The most bytes all tensors of a state dict may give together.
    public var maxTotalBytes: Int

    /// Defaults: no extra classes; both limits the machine's physical memory.
    public init(dataClasses: Set<String> = [], maxTensorBytes: Int? = nil, maxTotalBytes: Int? = nil) {
        self.dataClasses = dataClasses
        self.maxTensorBytes = maxTensorBytes ?? SystemMemory.physicalBytes
        self.maxTotalBytes = maxTotalBytes ?? SystemMemory.physicalBytes
    }
}

/// Why a PyTorch file cannot be read, always naming the file.
public struct PyTorchCheckpointError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var problem: String
    /// The `module.name` whose call was refused (`posix.system`, ...), for a refused file.
    public var refusedGlobal: String?
    /// The state dicts the file holds, when the error is that the choice is ambiguous or the key unknown.
    public var candidates: [PyTorchCheckpoint.Candidate]

    public init(
        path: String, problem: String, refusedGlobal: String? = nil, candidates: [PyTorchCheckpoint.Candidate] = []
    ) {
        self.path = path
        self.problem = problem
        self.refusedGlobal = refusedGlobal
        self.candidates = candidates
    }

    public var description: String { "\(path): \(problem)" }
}

/// A `torch.save` file (`.pth`, `.pt`, `.bin`) read without executing anything:
/// the zip format of torch >= 1.6 and the older pickled format. The pickle is
/// interpreted as data (tensors, containers, plain values; see ``Pickle``);
/// a pickle that would call anything else (`os.system`, `builtins.eval`, a
/// model class, ...) is refused with the global's name.
///
/// ```swift
/// let checkpoint = try PyTorchCheckpoint(path: "mixmim_base.pth")
/// print(checkpoint.value["epoch"] ?? .none)                  // 599
/// let weights = try checkpoint.stateDict()                   // finds `model`, strips `module.`
/// try SafeTensors.write(weights.safeTensorsValues(), to: "mixmim_base.safetensors")
/// ```
public final class PyTorchCheckpoint {
    public enum Format: String, Sendable {
        /// torch >= 1.6: a zip of `<name>/data.pkl` and `<name>/data/<key>` storages.
        case zip
        /// Before 1.6: magic number, protocol, system info, the pickle, storage keys, raw storages.
        case legacy
    }

    /// A dict of tensors in the file, by its key path (`""` for the top level).
    public struct Candidate: Sendable, Equatable, CustomStringConvertible {
        public var key: String
        public var tensorCount: Int
        public var description: String {
            "\(key.isEmpty ? "the top level" : "'\(key)'") (\(tensorCount) tensor\(tensorCount == 1 ? "" : "s"))"
        }
    }

    public let path: String
    public let format: Format
    public let options: PyTorchReadOptions
    private let bytes: InputBytes
    private let arena: PickleArena
    private let root: PickleNode

    /// Keys tried, in order, when the file holds a dict of state dicts.
    public static let stateDictKeys = [
        "state_dict", "model", "model_state", "model_state_dict", "module", "net", "network", "params",
    ]

    /// Reads the file at `path` (a regular file only).
    public convenience init(path: String, options: PyTorchReadOptions = .init()) throws {
        let bytes: InputBytes
        do {
            bytes = try RegularFile.map(path, what: "PyTorch checkpoint")
        } catch let error as InputFileError {
            throw PyTorchCheckpointError(path: path, problem: error.problem)
        }
        try self.init(bytes: bytes, options: options)
    }

    /// Reads a checkpoint from bytes (a mapped file or a copy in memory).
    public init(bytes: InputBytes, options: PyTorchReadOptions = .init()) throws {
        self.path = bytes.path
        self.bytes = bytes
        self.options = options
        let arena = PickleArena()
        self.arena = arena
        let reader = PyTorchFileReader(bytes: bytes, arena: arena, calls: PickleCalls(dataClasses: options.dataClasses))
        (format, root) = try reader.read()
    }

    /// The whole pickled object as plain data (bounded, see ``PickleValue``).
    public var value: PickleValue {
        var snapshot = PickleSnapshot()
        return snapshot.value(of: root)
    }

    /// The dicts of tensors at the top level or one level below it.
    public var candidates: [Candidate] {
        guard case .dict(let top) = root else { return [] }
        var found: [Candidate] = []
        let own = Self.tensorCount(top)
        if own > 0 { found.append(Candidate(key: "", tensorCount: own)) }
        for (key, value) in zip(top.keys, top.values) {
            guard case .string(let name) = key, case .dict(let inner) = value else { continue }
            let n = Self.tensorCount(inner)
            if n > 0 { found.append(Candidate(key: name, tensorCount: n)) }
        }
        return found
    }

    private static func tensorCount(_ dict: PickleDict) -> Int {
        dict.values.reduce(0) { n, v in if case .tensor = v { return n + 1 } else { return n } }
    }

    private func fail(_ problem: String, candidates: [Candidate] = []) -> PyTorchCheckpointError {
        PyTorchCheckpointError(path: path, problem: problem, candidates: candidates)
    }

    /// The state dict: the dict named by `key` (a top-level key, or a path
    /// through nested dicts joined by "."), or else the one found in the usual
    /// places: the top level when it holds tensors and nothing else does, else
    /// the one of ``stateDictKeys`` present, else the only dict of tensors.
    /// `module.` prefixes (DataParallel) are stripped. Tensors come out
    /// contiguous with their own dtype.
    public func stateDict(key: String? = nil) throws -> PyTorchStateDict {
        let found = candidates
        let listing = found.map(\.description).joined(separator: ", ")
        guard case .dict(let top) = root else {
            throw fail(
                "the file holds a \(root.kind), not a dict: mixmae reads checkpoints that are dicts of tensors (a state_dict), possibly inside a dict"
            )
        }
        let chosen: (String, PickleDict)
        if let key {
            guard let node = Self.lookup(key, in: top) else {
                throw fail(
                    "no key '\(key)' in the file; its top-level keys are \(Self.keyList(top)); dicts of tensors: \(listing.isEmpty ? "none" : listing)",
                    candidates: found)
            }
            guard case .dict(let dict) = node, Self.tensorCount(dict) > 0 else {
                throw fail(
                    "'\(key)' holds a \(node.kind), not a dict of tensors; dicts of tensors: \(listing.isEmpty ? "none" : listing)",
                    candidates: found)
            }
            chosen = (key, dict)
        } else {
            chosen = try automaticChoice(top, found, listing)
        }
        return try makeStateDict(key: chosen.0, dict: chosen.1)
    }

    private func automaticChoice(_ top: PickleDict, _ found: [Candidate], _ listing: String) throws -> (
        String, PickleDict
    ) {
        func dict(_ key: String) -> PickleDict {
            if key.isEmpty { return top }
            guard case .dict(let d) = top.value(forString: key) else { preconditionFailure("candidate \(key)") }
            return d
        }
        let preferred = found.filter { Self.stateDictKeys.contains($0.key) }
        if preferred.count == 1 { return (preferred[0].key, dict(preferred[0].key)) }
        if found.count == 1 { return (found[0].key, dict(found[0].key)) }
        if found.isEmpty {
            throw fail(
                "no tensors found: the file holds \(Self.keyList(top)), none of which is a dict of tensors; name the state dict's key path (e.g. 'model.encoder')"
            )
        }
        throw fail(
            "it holds several dicts of tensors: \(listing); choose one by its key (mixmae import --key KEY, init.key)",
            candidates: found)
    }

    private static func keyList(_ dict: PickleDict) -> String {
        let names = dict.keys.prefix(12).map { key -> String in
            if case .string(let s) = key { return "'\(s)'" }
            return "<\(key.kind)>"
        }
        return names.isEmpty ? "an empty dict" : names.joined(separator: ", ") + (dict.count > 12 ? ", ..." : "")
    }

    /// `key` as one top-level key, else as a "."-separated path of keys.
    private static func lookup(_ key: String, in top: PickleDict) -> PickleNode? {
        if let node = top.value(forString: key) { return node }
        var node = PickleNode.dict(top)
        var rest = Substring(key)
        // Walk greedily: at each level take the longest prefix of the rest that is a key.
        while !rest.isEmpty {
            guard case .dict(let dict) = node else { return nil }
            var matched = false
            var end = rest.endIndex
            while true {
                let candidate = String(rest[..<end])
                if let next = dict.value(forString: candidate),
                    end == rest.endIndex || rest[end] == "."
                {
                    node = next
                    rest = end == rest.endIndex ? "" : rest[rest.index(after: end)...]
                    matched = true
                    break
                }
                guard let dot = rest[..<end].lastIndex(of: ".") else { break }
                end = dot
            }
            if !matched { return nil }
        }
        return node
    }

    private func makeStateDict(key: String, dict: PickleDict) throws -> PyTorchStateDict {
        var names: [String] = []
        var tensors: [String: RawTensor] = [:]
        var skipped: [String] = []
        var stripped = false
        var total = 0
        for (k, v) in zip(dict.keys, dict.values) {
            guard case .string(var name) = k else {
                skipped.append("<\(k.kind) key>")
                continue
            }
            guard case .tensor(let tensor) = v else {
                skipped.append("\(name) (\(v.kind))")
                continue
            }
            let original = name
            if name.hasPrefix("module.") {
                name.removeFirst("module.".count)
                stripped = true
            }
            guard tensors[name] == nil else {
                throw fail("'\(original)' and another tensor both give '\(name)' once 'module.' is removed")
            }
            let raw: RawTensor
            do {
                raw = try PyTorchTensors.materialize(tensor, limit: options.maxTensorBytes)
            } catch let error as PickleError {
                throw fail("tensor '\(original)' (\(tensor.dtype.rawValue) \(tensor.shape)): \(error.problem)")
            }
            total += raw.bytes.count
            guard total <= options.maxTotalBytes else {
                throw fail(
                    "the tensors of \(key.isEmpty ? "the state dict" : "'\(key)'") need more than \(ByteCount.describe(options.maxTotalBytes)) together (at '\(original)')"
                )
            }
            names.append(name)
            tensors[name] = raw
        }
        return PyTorchStateDict(
            path: path, key: key, names: names, tensors: tensors, strippedModulePrefix: stripped, skipped: skipped)
    }
}

/// A PyTorch state dict read from a file: names in file order, each tensor
/// contiguous with its own dtype.
///
/// ```swift
/// let weights = try PyTorchCheckpoint(path: "ckpt.pth").stateDict()
/// print(weights.summary)
/// let w = try weights.tensor("patch_embed.proj.weight")           // float32 Tensor
/// let index = try weights.raw("relative_position_index")          // I64 as stored
/// ```
public struct PyTorchStateDict: TensorSource, Sendable {
    public let path: String
    /// Where the dict was found: "" for the top level, else its key path.
    public let key: String
    /// Tensor names in file order, `module.` removed.
    public let names: [String]
    public let tensors: [String: RawTensor]
    /// True when `module.` prefixes were removed.
    public let strippedModulePrefix: Bool
    /// Entries of the dict that are not tensors (with their kind).
    public let skipped: [String]

    public var metadata: [String: String] { [:] }

    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }
    public func dtype(of name: String) -> SafeTensorsDType? { tensors[name]?.dtype }

    public func raw(_ name: String) throws -> RawTensor {
        guard let t = tensors[name] else {
            throw PyTorchCheckpointError(
                path: path,
                problem:
                    "no tensor named '\(name)' in \(key.isEmpty ? "the state dict" : "'\(key)'") (it has \(names.count): \(names.prefix(8).joined(separator: ", "))\(names.count > 8 ? ", ..." : ""))"
            )
        }
        return t
    }

    public func tensor(_ name: String) throws -> Tensor {
        let raw = try raw(name)
        do {
            return try raw.float32()
        } catch let error as TensorAllocationError {
            throw PyTorchCheckpointError(path: path, problem: "tensor '\(name)': \(error.description)")
        }
    }

    /// One line for the log: how many tensors, from where, what was left out.
    public var summary: String {
        var s = "\(names.count) tensors from \(key.isEmpty ? "the top level" : "'\(key)'") of \(path)"
        let dtypes = Dictionary(grouping: tensors.values, by: \.dtype).map { "\($0.value.count) \($0.key.rawValue)" }
        if !dtypes.isEmpty { s += " (" + dtypes.sorted().joined(separator: ", ") + ")" }
        if strippedModulePrefix { s += "; 'module.' prefixes removed" }
        if !skipped.isEmpty {
            s +=
                "; \(skipped.count) entries that are not tensors left out: \(skipped.prefix(5).joined(separator: ", "))"
        }
        return s
    }
}

/// A storage's persistent id: `('storage', type, key, location, numel)`, and
/// in the legacy format a sixth element, `(view_key, offset, view_numel)` or None.
struct StorageID {
    var dtype: SafeTensorsDType
    var key: String
    var count: Int
    var view: (key: String, offset: Int, count: Int)?

    init(_ id: PickleNode) throws {
        guard case .tuple(let tuple) = id, tuple.items.count == 5 || tuple.items.count == 6,
            case .string("storage") = tuple.items[0]
        else {
            throw PickleError(
                problem:
                    "a persistent id that is not a storage (\(id.kind)); mixmae reads storages only, not whole pickled modules"
            )
        }
        let items = tuple.items
        guard case .global(let type) = items[1] else {
            throw PickleError(problem: "a storage whose type is a \(items[1].kind), not a torch storage class")
        }
        guard let dtype = TorchTypes.storageDType(type) else {
            throw PickleError(
                problem: "storage type \(type) is not supported (complex and quantized tensors are not read)")
        }
        self.dtype = dtype
        key = try Self.key(items[2])
        count = try Self.count(items[4])
        if items.count == 6, case .tuple(let view) = items[5] {
            guard view.items.count == 3 else { throw PickleError(problem: "a storage view id without 3 fields") }
            self.view = (try Self.key(view.items[0]), try Self.count(view.items[1]), try Self.count(view.items[2]))
        }
    }

    private static func key(_ node: PickleNode) throws -> String {
        switch node {
        case .string(let s): return s
        case .int(let i): return String(i)
        default: throw PickleError(problem: "a storage key that is a \(node.kind)")
        }
    }

    private static func count(_ node: PickleNode) throws -> Int {
        guard case .int(let v) = node, let n = Int(exactly: v), n >= 0 else {
            throw PickleError(problem: "a storage size that is not a non-negative integer (\(node.kind))")
        }
        return n
    }
}
