import Foundation

/// The only "calls" a pickle may make: functions whose meaning is rebuilt
/// here as data (tensor rebuilding, OrderedDict, torch.Size, ...), and data
/// classes whose instances become opaque ``PickleObject``s. Nothing is ever
/// looked up or executed; any other global that a pickle calls or builds is
/// refused with its name.
final class PickleCalls {
    /// Classes read as opaque data by default: they appear in real checkpoints
    /// (`argparse.Namespace` in the official MixMAE ones, numpy scalars,
    /// paths, dates) and building them runs no code of the file's choosing.
    static let defaultDataClasses: Set<String> = [
        "argparse.Namespace", "types.SimpleNamespace",
        "torch.device",
        "builtins.complex", "builtins.slice", "builtins.range",
        "collections.Counter", "collections.deque",
        "numpy.dtype", "numpy.ndarray",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "pathlib.Path", "pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.PurePosixPath",
        "pathlib.PureWindowsPath",
        "datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "datetime.timezone",
        "decimal.Decimal", "fractions.Fraction",
    ]

    /// The classes a tensor may be rebuilt as by `torch._tensor._rebuild_from_type_v2`.
    static let tensorTypes: Set<String> = ["torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.Parameter"]

    let dataClasses: Set<String>

    init(dataClasses: Set<String>) {
        self.dataClasses = Self.defaultDataClasses.union(dataClasses)
    }

    private func fail(_ problem: String) -> PickleError { PickleError(problem: problem) }

    static func refusal(_ name: String, via opcode: String) -> PickleError {
        var problem =
            "refused: the pickle calls `\(name)` (\(opcode)), which is not tensor, container or plain data; nothing was executed."
        if name.hasPrefix("torch._utils.") || name.hasPrefix("torch._tensor.") {
            problem +=
                " It builds a kind of tensor mixmae does not read (quantized, sparse, nested, or without storage): save a plain state dict of dense CPU tensors."
        } else {
            problem +=
                " A checkpoint for mixmae holds tensors, containers and plain data only; if you trust the file, load it in Python and save the model's state_dict again (torch.save or safetensors)."
        }
        return PickleError(problem: problem, refusedGlobal: name)
    }

    /// The result of calling `callable` with `arguments` (REDUCE, NEWOBJ, ...), interpreted as data.
    func call(_ callable: PickleNode, arguments: [PickleNode], via opcode: String, _ arena: PickleArena) throws
        -> PickleNode
    {
        guard case .global(let name) = callable else {
            throw fail("\(opcode) on a \(callable.kind): only named functions and classes can be called")
        }
        switch name {
        case "torch._utils._rebuild_tensor":
            return try rebuildTensor(arguments, dtypeArgument: nil, name, arena)
        case "torch._utils._rebuild_tensor_v2":
            return try rebuildTensor(arguments, dtypeArgument: nil, name, arena)
        case "torch._utils._rebuild_tensor_v3":
            return try rebuildTensor(arguments, dtypeArgument: 6, name, arena)
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = arguments.first, case .tensor = data else {
                throw fail("\(name) needs a tensor first, got \(arguments.first?.kind ?? "nothing")")
            }
            return data
        case "torch._tensor._rebuild_from_type_v2":
            return try rebuildFromType(arguments, via: opcode, arena)
        case "collections.OrderedDict", "builtins.dict", "collections.defaultdict":
            let dict = arena.keep(PickleDict(type: name))
            if name != "collections.defaultdict", let initial = arguments.first {
                for pair in try sequence(initial, name) {
                    let items = try sequence(pair, name)
                    guard items.count == 2 else { throw fail("\(name) needs (key, value) pairs") }
                    try dict.set(items[0], items[1])
                }
            }
            return .dict(dict)
        case "torch.Size":
            let dims = try arguments.first.map { try sequence($0, name) } ?? []
            return .tuple(arena.keep(PickleTuple(dims)))
        case "builtins.set", "builtins.frozenset":
            let set = arena.keep(PickleSet(frozen: name == "builtins.frozenset"))
            for item in try arguments.first.map({ try sequence($0, name) }) ?? []
            where set.keys.insert(try PickleKey(item)).inserted {
                set.items.append(item)
            }
            return .set(set)
        case "builtins.bytearray", "builtins.bytes", "_codecs.encode":
            return .bytes(try byteString(arguments, name))
        default:
            guard dataClasses.contains(name) else { throw Self.refusal(name, via: opcode) }
            return .object(arena.keep(PickleObject(type: name, arguments: arguments)))
        }
    }

    /// BUILD: sets the state of an opaque object or the attributes of a dict;
    /// anything else is refused (BUILD on a global would set attributes of
    /// a module or class).
    func build(_ target: PickleNode, state: PickleNode) throws {
        switch target {
        case .object(let object): object.state = state
        case .dict(let dict): dict.attributes = state
        case .tensor: break
        case .global(let name): throw Self.refusal(name, via: "BUILD")
        default: throw fail("BUILD on a \(target.kind), which has no state to set")
        }
    }

    private func sequence(_ node: PickleNode, _ context: String) throws -> [PickleNode] {
        switch node {
        case .tuple(let t): return t.items
        case .list(let l): return l.items
        default: throw fail("\(context) needs a tuple or list, got a \(node.kind)")
        }
    }

    private func byteString(_ arguments: [PickleNode], _ name: String) throws -> [UInt8] {
        switch arguments.first {
        case nil: return []
        case .bytes(let b): return b
        case .string(let s):
            let encoding = arguments.count > 1 ? arguments[1] : .string("utf-8")
            guard case .string(let e) = encoding else { throw fail("\(name) needs an encoding name") }
            switch e.lowercased() {
            case "latin1", "latin-1", "iso-8859-1", "iso8859-1":
                return try s.unicodeScalars.map {
                    guard $0.value < 256 else { throw fail("\(name): a character beyond latin-1") }
                    return UInt8($0.value)
                }
            case "utf-8", "utf8", "ascii": return Array(s.utf8)
            default: throw fail("\(name): encoding '\(e.prefix(40))' is not supported")
            }
        case .some(let other): throw fail("\(name) of a \(other.kind)")
        }
    }

    private func integer(_ node: PickleNode, _ what: String, _ function: String) throws -> Int {
        guard case .int(let v) = node, let i = Int(exactly: v), i >= 0 else {
            throw fail("\(function): \(what) must be a non-negative integer, got \(node.kind)")
        }
        return i
    }

    /// Torch allows at most 64 dimensions.
    static let maxRank = 64

    /// `_rebuild_tensor(storage, offset, size, stride)`, `_v2(..., requires_grad,
    /// backward_hooks[, metadata])` and `_v3(..., dtype[, metadata])`.
    private func rebuildTensor(_ arguments: [PickleNode], dtypeArgument: Int?, _ function: String, _ arena: PickleArena)
        throws -> PickleNode
    {
        guard arguments.count >= 4 else {
            throw fail("\(function) needs storage, offset, size and stride, got \(arguments.count) arguments")
        }
        guard case .storage(let storage) = arguments[0] else {
            throw fail("\(function) needs a storage first, got a \(arguments[0].kind)")
        }
        let offset = try integer(arguments[1], "the storage offset", function)
        let shape = try sequence(arguments[2], function).map { try integer($0, "a size", function) }
        let strides = try sequence(arguments[3], function).map { try integer($0, "a stride", function) }
        guard shape.count == strides.count, shape.count <= Self.maxRank else {
            throw fail(
                "\(function): size \(shape.prefix(8)) and stride \(strides.prefix(8)) must have the same length (at most \(Self.maxRank))"
            )
        }
        var dtype = storage.dtype
        if let index = dtypeArgument {
            guard arguments.count > index, case .global(let name) = arguments[index], let d = TorchTypes.dtype(name)
            else {
                let given = arguments.count > index ? arguments[index].kind : "nothing"
                throw fail("\(function) needs a torch dtype at argument \(index + 1), got \(given)")
            }
            dtype = d
        }
        return .tensor(
            arena.keep(PickleTensor(storage: storage, dtype: dtype, offset: offset, shape: shape, strides: strides)))
    }

    /// `_rebuild_from_type_v2(func, type, args, state)`: a tensor (or Parameter) with Python attributes.
    private func rebuildFromType(_ arguments: [PickleNode], via opcode: String, _ arena: PickleArena) throws
        -> PickleNode
    {
        let function = "torch._tensor._rebuild_from_type_v2"
        guard arguments.count >= 3, case .global(let inner) = arguments[0], case .global(let type) = arguments[1],
            case .tuple(let innerArguments) = arguments[2]
        else {
            throw fail("\(function) needs a function, a type and a tuple of arguments")
        }
        guard Self.tensorTypes.contains(type) else { throw Self.refusal(type, via: function) }
        guard inner != function else { throw fail("\(function) nested in itself") }
        let result = try call(.global(inner), arguments: innerArguments.items, via: opcode, arena)
        guard case .tensor = result else { throw fail("\(function) of \(inner) does not give a tensor") }
        return result
    }
}

/// PyTorch's names for element types.
enum TorchTypes {
    /// The dtype of `torch.FloatStorage` and the like (`torch.cuda.*` too).
    static func storageDType(_ global: String) -> SafeTensorsDType? {
        var name = global
        for prefix in ["torch.cuda.", "torch.storage.", "torch."] where name.hasPrefix(prefix) {
            name.removeFirst(prefix.count)
            break
        }
        switch name {
        case "FloatStorage": return .f32
        case "DoubleStorage": return .f64
        case "HalfStorage": return .f16
        case "BFloat16Storage": return .bf16
        case "LongStorage": return .i64
        case "IntStorage": return .i32
        case "ShortStorage": return .i16
        case "CharStorage": return .i8
        case "ByteStorage", "UntypedStorage": return .u8
        case "BoolStorage": return .bool
        default: return nil
        }
    }

    /// The dtype of a `torch.float16`-style global.
    static func dtype(_ global: String) -> SafeTensorsDType? {
        switch global {
        case "torch.float32", "torch.float": return .f32
        case "torch.float64", "torch.double": return .f64
        case "torch.float16", "torch.half": return .f16
        case "torch.bfloat16": return .bf16
        case "torch.int64", "torch.long": return .i64
        case "torch.int32", "torch.int": return .i32
        case "torch.int16", "torch.short": return .i16
        case "torch.int8": return .i8
        case "torch.uint8": return .u8
        case "torch.uint16": return .u16
        case "torch.uint32": return .u32
        case "torch.uint64": return .u64
        case "torch.bool": return .bool
        default: return nil
        }
    }
}
