import Foundation

/// A value read from a pickle, as plain data. Functions and classes are only
/// names (``global(_:)``); instances of data classes such as
/// `argparse.Namespace` are ``object(_:)`` placeholders holding what the
/// pickle gave to build them. Tensors are described, their data is read with
/// ``PyTorchCheckpoint/stateDict(key:)``.
///
/// Snapshots are bounded: deeper than ``Pickle/maxSnapshotDepth``, past
/// ``Pickle/maxSnapshotValues`` values, or back into a value being shown
/// (a cycle), a value is ``elided``.
///
/// ```swift
/// let value = try Pickle.load([0x80, 0x02, 0x7d, 0x58, 0x01, 0, 0, 0, 0x61, 0x4b, 0x07, 0x73, 0x2e])
/// value["a"]        // .int(7)
/// print(value)      // {'a': 7}
/// ```
public indirect enum PickleValue: Equatable, Sendable, CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer beyond Int64: little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list([PickleValue])
    case set([PickleValue])
    /// A dict, OrderedDict or defaultdict, in insertion order.
    case dict([Item])
    /// A reference to `module.name`, never resolved.
    case global(String)
    case object(Object)
    case storage(dtype: SafeTensorsDType, key: String, count: Int)
    case tensor(dtype: SafeTensorsDType, shape: [Int])
    /// Left out: too deep, too many values, or a cycle.
    case elided

    public struct Item: Equatable, Sendable {
        public var key: PickleValue
        public var value: PickleValue

        public init(key: PickleValue, value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    /// An instance of a data class, as the pickle describes it.
    public struct Object: Equatable, Sendable {
        public var type: String
        public var arguments: [PickleValue]
        public var state: PickleValue?
        public var listItems: [PickleValue]
        public var dictItems: [Item]

        public init(
            type: String, arguments: [PickleValue] = [], state: PickleValue? = nil, listItems: [PickleValue] = [],
            dictItems: [Item] = []
        ) {
            self.type = type
            self.arguments = arguments
            self.state = state
            self.listItems = listItems
            self.dictItems = dictItems
        }
    }

    /// The value under string key `key` of a dict, or of an object's state
    /// dict (`args.batch_size` of an `argparse.Namespace`).
    public subscript(key: String) -> PickleValue? {
        switch self {
        case .dict(let items): return items.first { $0.key == .string(key) }?.value
        case .object(let o): return o.state?[key]
        default: return nil
        }
    }

    /// The string keys of a dict, in order.
    public var keys: [String] {
        guard case .dict(let items) = self else { return [] }
        return items.compactMap { if case .string(let s) = $0.key { return s } else { return nil } }
    }

    public var description: String {
        var out = ""
        write(to: &out, budget: 2000)
        return out
    }

    /// A Python-like rendering, cut with "..." after about `budget` characters.
    private func write(to out: inout String, budget: Int) {
        func list(_ items: [PickleValue], _ open: String, _ close: String) {
            out += open
            for (i, item) in items.enumerated() {
                if out.utf8.count > budget {
                    out += "..."
                    break
                }
                if i > 0 { out += ", " }
                item.write(to: &out, budget: budget)
            }
            if open == "(" && items.count == 1 { out += "," }
            out += close
        }
        switch self {
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .bigInt(let b): out += "<int of \(b.count) bytes>"
        case .float(let f): out += String(f)
        case .string(let s): out += "'\(s.count > 200 ? s.prefix(200) + "..." : Substring(s))'"
        case .bytes(let b): out += "<\(b.count) bytes>"
        case .tuple(let items): list(items, "(", ")")
        case .list(let items): list(items, "[", "]")
        case .set(let items): list(items, "{", "}")
        case .dict(let items):
            out += "{"
            for (i, item) in items.enumerated() {
                if out.utf8.count > budget {
                    out += "..."
                    break
                }
                if i > 0 { out += ", " }
                item.key.write(to: &out, budget: budget)
                out += ": "
                item.value.write(to: &out, budget: budget)
            }
            out += "}"
        case .global(let name): out += name
        case .object(let o):
            out += o.type
            if let state = o.state {
                out += "("
                state.write(to: &out, budget: budget)
                out += ")"
            } else {
                list(o.arguments, "(", ")")
            }
        case .storage(let dtype, let key, let count): out += "<storage \(key): \(count) x \(dtype.rawValue)>"
        case .tensor(let dtype, let shape): out += "<tensor \(dtype.rawValue) \(shape)>"
        case .elided: out += "..."
        }
    }
}

/// Reading plain pickles (no PyTorch storages attached): the same machine
/// ``PyTorchCheckpoint`` uses, for inspection, tests and fuzzing.
///
/// ```swift
/// let value = try Pickle.load(bytes)                                // refuses os.system & co.
/// let value = try Pickle.load(bytes, dataClasses: ["easydict.EasyDict"])
/// ```
public enum Pickle {
    /// Snapshots stop this deep.
    public static let maxSnapshotDepth = 64
    /// Snapshots hold at most this many values (a checkpoint with its
    /// optimizer state has a few thousand; shared values count each time they
    /// appear, so a pickle of a few hundred bytes that nests a list in itself
    /// twice per level would otherwise expand exponentially).
    public static let maxSnapshotValues = 100_000

    /// The value pickled in `bytes`. Persistent ids that name a PyTorch
    /// storage become ``PickleValue/storage(dtype:key:count:)`` (without
    /// data), other persistent ids opaque `persistent` objects.
    public static func load(_ bytes: [UInt8], dataClasses: Set<String> = []) throws -> PickleValue {
        try bytes.withUnsafeBytes { buffer in
            let arena = PickleArena()
            let machine = PickleMachine(
                bytes: buffer, arena: arena, calls: PickleCalls(dataClasses: dataClasses),
                persistentLoad: { id in
                    if let storage = try? StorageID(id) {
                        return .storage(
                            arena.keep(
                                PickleStorage(key: storage.key, dtype: storage.dtype, declaredCount: storage.count)))
                    }
                    return .object(arena.keep(PickleObject(type: "persistent", arguments: [id])))
                })
            let root = try machine.load()
            var snapshot = PickleSnapshot()
            return snapshot.value(of: root)
        }
    }
}

/// Turns the machine's graph into a bounded ``PickleValue`` tree.
struct PickleSnapshot {
    private var remaining = Pickle.maxSnapshotValues
    private var open: Set<ObjectIdentifier> = []

    init(limit: Int = Pickle.maxSnapshotValues) { remaining = limit }

    mutating func value(of node: PickleNode, depth: Int = 0) -> PickleValue {
        guard depth < Pickle.maxSnapshotDepth, remaining > 0 else { return .elided }
        remaining -= 1
        switch node {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let b): return .bigInt(b)
        case .float(let f): return .float(f)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b)
        case .global(let g): return .global(g)
        case .storage(let s): return .storage(dtype: s.dtype, key: s.key, count: s.declaredCount)
        case .tensor(let t): return .tensor(dtype: t.dtype, shape: t.shape)
        case .tuple(let t): return within(t) { $0.values(t.items, depth) }.map(PickleValue.tuple) ?? .elided
        case .list(let l): return within(l) { $0.values(l.items, depth) }.map(PickleValue.list) ?? .elided
        case .set(let s): return within(s) { $0.values(s.items, depth) }.map(PickleValue.set) ?? .elided
        case .dict(let d):
            return within(d) { me in
                zip(d.keys, d.values).map {
                    PickleValue.Item(key: me.value(of: $0, depth: depth + 1), value: me.value(of: $1, depth: depth + 1))
                }
            }.map(PickleValue.dict) ?? .elided
        case .object(let o):
            return within(o) { me in
                PickleValue.Object(
                    type: o.type, arguments: me.values(o.arguments, depth),
                    state: o.state.map { me.value(of: $0, depth: depth + 1) },
                    listItems: me.values(o.listItems, depth),
                    dictItems: o.dictItems.map {
                        .init(key: me.value(of: $0.0, depth: depth + 1), value: me.value(of: $0.1, depth: depth + 1))
                    })
            }.map(PickleValue.object) ?? .elided
        }
    }

    private mutating func values(_ nodes: [PickleNode], _ depth: Int) -> [PickleValue] {
        var out: [PickleValue] = []
        for node in nodes {
            guard remaining > 0 else {
                out.append(.elided)
                break
            }
            out.append(value(of: node, depth: depth + 1))
        }
        return out
    }

    /// Runs `body` with `composite` marked open; nil when it is already open (a cycle).
    private mutating func within<T>(_ composite: PickleComposite, _ body: (inout PickleSnapshot) -> T) -> T? {
        let id = ObjectIdentifier(composite)
        guard open.insert(id).inserted else { return nil }
        defer { open.remove(id) }
        return body(&self)
    }
}
