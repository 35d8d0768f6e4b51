import Foundation

/// A value on the pickle machine's stack or in its memo. Containers are
/// reference types because pickles mutate them after they are memoised
/// (`EMPTY_DICT`, `BINPUT`, ..., `SETITEMS`), and every container is kept
/// by a ``PickleArena`` so that releasing a deep or cyclic structure never
/// recurses.
enum PickleNode {
    case none
    case bool(Bool)
    case int(Int64)
    /// A little-endian two's-complement integer too large for Int64.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A reference to `module.name`, never resolved or called.
    case global(String)
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    case set(PickleSet)
    case object(PickleObject)
    case storage(PickleStorage)
    case tensor(PickleTensor)

    /// What kind of value this is, for error messages.
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .global(let name): return "global \(name)"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict(let d): return d.type == "builtins.dict" ? "dict" : d.type
        case .set: return "set"
        case .object(let o): return "\(o.type) object"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// Every container a pickle builds; ``dissolve()`` drops its children.
class PickleComposite {
    func dissolve() {}
}

/// Keeps every container of one load alive and, when released, first empties
/// them all, so that a nested chain a million deep (or a cycle) is freed flat.
final class PickleArena {
    private var composites: [PickleComposite] = []

    func keep<T: PickleComposite>(_ composite: T) -> T {
        composites.append(composite)
        return composite
    }

    var count: Int { composites.count }

    deinit { for c in composites { c.dissolve() } }
}

final class PickleTuple: PickleComposite {
    private(set) var items: [PickleNode]
    init(_ items: [PickleNode]) { self.items = items }
    override func dissolve() { items = [] }
}

final class PickleList: PickleComposite {
    var items: [PickleNode] = []
    override func dissolve() { items = [] }
}

final class PickleSet: PickleComposite {
    var items: [PickleNode] = []
    var keys: Set<PickleKey> = []
    let frozen: Bool
    init(frozen: Bool) { self.frozen = frozen }
    override func dissolve() { items = [] }
}

/// A dict (or `OrderedDict`, `defaultdict`) in insertion order.
final class PickleDict: PickleComposite {
    let type: String
    private(set) var keys: [PickleNode] = []
    private(set) var values: [PickleNode] = []
    private var index: [PickleKey: Int] = [:]
    /// State set by BUILD (an OrderedDict's `_metadata`); kept, never used.
    var attributes: PickleNode?

    init(type: String) { self.type = type }

    var count: Int { keys.count }

    func set(_ key: PickleNode, _ value: PickleNode) throws {
        let hashed = try PickleKey(key)
        if let i = index[hashed] {
            values[i] = value
        } else {
            index[hashed] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    func value(forString key: String) -> PickleNode? {
        index[.string(key)].map { values[$0] }
    }

    override func dissolve() {
        keys = []
        values = []
        attributes = nil
    }
}

/// An instance of an allowed data class (`argparse.Namespace`, ...): what
/// the pickle gave to build it, kept as data; nothing is ever called.
final class PickleObject: PickleComposite {
    let type: String
    private(set) var arguments: [PickleNode]
    var keywordArguments: PickleNode?
    var state: PickleNode?
    var listItems: [PickleNode] = []
    var dictItems: [(PickleNode, PickleNode)] = []

    init(type: String, arguments: [PickleNode]) {
        self.type = type
        self.arguments = arguments
    }

    override func dissolve() {
        arguments = []
        keywordArguments = nil
        state = nil
        listItems = []
        dictItems = []
    }
}

/// A storage named by a persistent id: its element type, declared element
/// count and, once the file's layout is known, its bytes.
final class PickleStorage: PickleComposite {
    let key: String
    let dtype: SafeTensorsDType
    let declaredCount: Int
    /// The bytes, little-endian after ``needsByteSwap`` is applied; nil until found.
    var bytes: UnsafeRawBufferPointer?
    var needsByteSwap = false
    /// For a legacy view (`storage[offset:offset+count]`): the storage it views and the element offset.
    var base: PickleStorage?
    var baseOffset = 0
    /// Called once before the bytes are first used (checks the zip entry's CRC).
    var verify: (() throws -> Void)?

    init(key: String, dtype: SafeTensorsDType, declaredCount: Int) {
        self.key = key
        self.dtype = dtype
        self.declaredCount = declaredCount
    }

    override func dissolve() {
        base = nil
        verify = nil
    }
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage.
final class PickleTensor: PickleComposite {
    let storage: PickleStorage
    let dtype: SafeTensorsDType
    let offset: Int
    let shape: [Int]
    let strides: [Int]

    init(storage: PickleStorage, dtype: SafeTensorsDType, offset: Int, shape: [Int], strides: [Int]) {
        self.storage = storage
        self.dtype = dtype
        self.offset = offset
        self.shape = shape
        self.strides = strides
    }
}

/// A hashable image of a dict key or set element, as Python would hash it:
/// immutable values by value, objects by identity; lists, dicts and sets are
/// unhashable.
indirect enum PickleKey: Hashable {
    case none
    case bool(Bool)
    case int(Int64)
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case global(String)
    case tuple([PickleKey])
    case identity(ObjectIdentifier)

    /// Tuples nested deeper than this as keys are refused (Python would hit its recursion limit).
    static let maxDepth = 64

    init(_ node: PickleNode, depth: Int = 0) throws {
        guard depth < Self.maxDepth else {
            throw PickleError(problem: "a dictionary key is a tuple nested more than \(Self.maxDepth) deep")
        }
        switch node {
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .bigInt(let b): self = .bigInt(b)
        case .float(let f): self = .float(f)
        case .string(let s): self = .string(s)
        case .bytes(let b): self = .bytes(b)
        case .global(let g): self = .global(g)
        case .tuple(let t): self = .tuple(try t.items.map { try PickleKey($0, depth: depth + 1) })
        case .set(let s) where s.frozen: self = .identity(ObjectIdentifier(s))
        case .object(let o): self = .identity(ObjectIdentifier(o))
        case .storage(let s): self = .identity(ObjectIdentifier(s))
        case .tensor(let t): self = .identity(ObjectIdentifier(t))
        case .list, .dict, .set:
            throw PickleError(problem: "a \(node.kind) is used as a dictionary key or set element (unhashable)")
        }
    }
}
