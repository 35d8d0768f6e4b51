import Foundation

/// What is wrong with a pickle, or why it was refused.
public struct PickleError: Error, CustomStringConvertible, Equatable {
    /// The byte offset of the opcode, when known.
    public var offset: Int?
    public var problem: String
    /// The `module.name` whose call was refused, for a refusal.
    public var refusedGlobal: String?

    public init(offset: Int? = nil, problem: String, refusedGlobal: String? = nil) {
        self.offset = offset
        self.problem = problem
        self.refusedGlobal = refusedGlobal
    }

    public var description: String { offset.map { "byte \($0): \(problem)" } ?? problem }
}

/// A pickle interpreter that builds data and never executes anything.
///
/// It understands the opcodes of protocols 2 to 5 (and the simple ones of
/// 0 and 1). A global (`module.name`) is only ever a name: calling it (REDUCE,
/// NEWOBJ, NEWOBJ_EX, INST, OBJ) or setting its state (BUILD) is allowed for
/// the functions ``PickleCalls`` interprets (tensor rebuilding, OrderedDict,
/// ...) and for plain data classes, which become opaque objects; anything
/// else is refused with its name.
final class PickleMachine {
    private let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    private var stack: [PickleNode] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleNode] = [:]
    let arena: PickleArena
    let calls: PickleCalls
    /// Turns a persistent id (BINPERSID, PERSID) into a value; PyTorch names storages this way.
    var persistentLoad: (PickleNode) throws -> PickleNode

    /// The highest protocol this machine reads.
    static let highestProtocol = 5

    init(
        bytes: UnsafeRawBufferPointer, position: Int = 0, arena: PickleArena, calls: PickleCalls,
        persistentLoad: @escaping (PickleNode) throws -> PickleNode
    ) {
        self.bytes = bytes
        self.position = position
        self.arena = arena
        self.calls = calls
        self.persistentLoad = persistentLoad
    }

    /// Runs from ``position`` to the STOP opcode and returns the pickled value;
    /// ``position`` is then just past STOP (where the next pickle starts).
    func load() throws -> PickleNode {
        stack = []
        marks = []
        memo = [:]
        while true {
            let start = position
            do {
                if let result = try step() { return result }
            } catch var error as PickleError {
                if error.offset == nil { error.offset = start }
                throw error
            }
        }
    }

    // MARK: - Reading the byte stream

    private func fail(_ problem: String) -> PickleError { PickleError(problem: problem) }

    private func take(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard CheckedSize.rangeFits(offset: position, length: count, in: bytes.count) else {
            throw fail("the pickle ends in the middle of an opcode's argument (needs \(count) bytes): truncated")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private func byte() throws -> UInt8 { try take(1)[0] }

    private func le<T: FixedWidthInteger>(_: T.Type) throws -> T {
        T(littleEndian: try take(MemoryLayout<T>.size).loadUnaligned(as: T.self))
    }

    /// A length read as `T`, which must be non-negative and fit in the rest of the pickle.
    private func length<T: FixedWidthInteger>(_: T.Type) throws -> Int {
        let value = try le(T.self)
        guard value >= 0, let n = Int(exactly: value), n <= bytes.count - position else {
            throw fail("a length of \(value) bytes runs past the end of the pickle (\(bytes.count - position) left)")
        }
        return n
    }

    private func line() throws -> String {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else {
            throw fail("a text argument has no end of line: truncated")
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[position..<newline])
        position = newline + 1
        return String(decoding: text, as: UTF8.self)
    }

    private func text(_ count: Int) throws -> String { String(decoding: try take(count), as: UTF8.self) }

    // MARK: - The stack

    private func push(_ node: PickleNode) { stack.append(node) }

    /// Pops the top value; it must lie above the innermost MARK.
    private func pop() throws -> PickleNode {
        guard stack.count > (marks.last ?? 0) else { throw fail("the stack is empty (a value is missing)") }
        return stack.removeLast()
    }

    private func top() throws -> PickleNode {
        guard stack.count > (marks.last ?? 0) else { throw fail("the stack is empty (a value is missing)") }
        return stack[stack.count - 1]
    }

    /// The values pushed since the innermost MARK, which is removed.
    private func popToMark() throws -> [PickleNode] {
        guard let mark = marks.popLast() else { throw fail("no MARK before an opcode that needs one") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func memoKey(_ value: Int) throws -> Int {
        guard value >= 0 else { throw fail("negative memo index \(value)") }
        return value
    }

    private func fetch(_ key: Int) throws -> PickleNode {
        guard let node = memo[key] else { throw fail("memo index \(key) was never stored") }
        return node
    }

    private func tuple(_ items: [PickleNode]) -> PickleNode { .tuple(arena.keep(PickleTuple(items))) }

    // MARK: - Opcodes

    /// Executes one opcode; returns the result at STOP.
    private func step() throws -> PickleNode? {
        let op = try byte()
        switch op {
        case 0x80:  // PROTO
            let version = try byte()
            guard Int(version) <= Self.highestProtocol else {
                throw fail("pickle protocol \(version) is newer than the \(Self.highestProtocol) this reader knows")
            }
        case 0x95:  // FRAME: a hint for buffering, the opcodes follow as usual
            _ = try length(UInt64.self)
        case 0x2E:  // STOP
            return try pop()
        case 0x28:  // MARK
            marks.append(stack.count)
        case 0x30:  // POP
            if stack.count == (marks.last ?? -1) {
                _ = try popToMark()
            } else {
                _ = try pop()
            }
        case 0x31:  // POP_MARK
            _ = try popToMark()
        case 0x32:  // DUP
            push(try top())
        case 0x4E: push(.none)  // NONE
        case 0x88: push(.bool(true))  // NEWTRUE
        case 0x89: push(.bool(false))  // NEWFALSE
        case 0x4A: push(.int(Int64(try le(Int32.self))))  // BININT
        case 0x4B: push(.int(Int64(try byte())))  // BININT1
        case 0x4D: push(.int(Int64(try le(UInt16.self))))  // BININT2
        case 0x8A: push(Self.integer(try take(Int(try byte()))))  // LONG1
        case 0x8B: push(Self.integer(try take(try length(Int32.self))))  // LONG4
        case 0x49:  // INT (text)
            let text = try line()
            if text == "00" || text == "01" {
                push(.bool(text == "01"))
            } else {
                push(.int(try parseInteger(text)))
            }
        case 0x4C:  // LONG (text)
            var text = try line()
            if text.hasSuffix("L") { text.removeLast() }
            push(.int(try parseInteger(text)))
        case 0x47:  // BINFLOAT (big-endian)
            push(.float(Double(bitPattern: UInt64(bigEndian: try take(8).loadUnaligned(as: UInt64.self)))))
        case 0x46:  // FLOAT (text)
            let text = try line()
            guard let value = Double(text) else { throw fail("FLOAT argument '\(text.prefix(40))' is not a number") }
            push(.float(value))
        case 0x58: push(.string(try text(try length(UInt32.self))))  // BINUNICODE
        case 0x8C: push(.string(try text(Int(try byte()))))  // SHORT_BINUNICODE
        case 0x8D: push(.string(try text(try length(UInt64.self))))  // BINUNICODE8
        case 0x54: push(.string(try text(try length(Int32.self))))  // BINSTRING (Python 2 str)
        case 0x55: push(.string(try text(Int(try byte()))))  // SHORT_BINSTRING
        case 0x42: push(.bytes(Array(try take(try length(UInt32.self)))))  // BINBYTES
        case 0x43: push(.bytes(Array(try take(Int(try byte())))))  // SHORT_BINBYTES
        case 0x8E, 0x96: push(.bytes(Array(try take(try length(UInt64.self)))))  // BINBYTES8, BYTEARRAY8
        case 0x53, 0x56:  // STRING, UNICODE (text)
            throw fail(
                "text-mode strings (pickle protocol 0) are not supported; torch.save writes protocol 2 unless told otherwise"
            )
        case 0x29: push(tuple([]))  // EMPTY_TUPLE
        case 0x85: push(tuple([try pop()]))  // TUPLE1
        case 0x86:  // TUPLE2
            let b = try pop()
            push(tuple([try pop(), b]))
        case 0x87:  // TUPLE3
            let c = try pop()
            let b = try pop()
            push(tuple([try pop(), b, c]))
        case 0x74: push(tuple(try popToMark()))  // TUPLE
        case 0x5D: push(.list(arena.keep(PickleList())))  // EMPTY_LIST
        case 0x6C:  // LIST
            let list = arena.keep(PickleList())
            list.items = try popToMark()
            push(.list(list))
        case 0x7D: push(.dict(arena.keep(PickleDict(type: "builtins.dict"))))  // EMPTY_DICT
        case 0x64:  // DICT
            let items = try popToMark()
            let dict = arena.keep(PickleDict(type: "builtins.dict"))
            try setItems(items, into: .dict(dict))
            push(.dict(dict))
        case 0x8F: push(.set(arena.keep(PickleSet(frozen: false))))  // EMPTY_SET
        case 0x91:  // FROZENSET
            let set = arena.keep(PickleSet(frozen: true))
            try add(try popToMark(), to: set)
            push(.set(set))
        case 0x90:  // ADDITEMS
            let items = try popToMark()
            guard case .set(let set) = try top(), !set.frozen else {
                throw fail("ADDITEMS on a \(try top().kind), not a set")
            }
            try add(items, to: set)
        case 0x61:  // APPEND
            let item = try pop()
            try append([item], to: try top())
        case 0x65:  // APPENDS
            let items = try popToMark()
            try append(items, to: try top())
        case 0x73:  // SETITEM
            let value = try pop()
            let key = try pop()
            try setItems([key, value], into: try top())
        case 0x75:  // SETITEMS
            let items = try popToMark()
            try setItems(items, into: try top())
        case 0x71: memo[try memoKey(Int(try byte()))] = try top()  // BINPUT
        case 0x72: memo[try memoKey(Int(try le(UInt32.self)))] = try top()  // LONG_BINPUT
        case 0x70: memo[try memoKey(try parseIndex(try line()))] = try top()  // PUT
        case 0x94: memo[memo.count] = try top()  // MEMOIZE
        case 0x68: push(try fetch(Int(try byte())))  // BINGET
        case 0x6A: push(try fetch(Int(try le(UInt32.self))))  // LONG_BINGET
        case 0x67: push(try fetch(try parseIndex(try line())))  // GET
        case 0x63:  // GLOBAL
            let module = try line()
            let name = try line()
            push(.global(module + "." + name))
        case 0x93:  // STACK_GLOBAL
            let name = try pop()
            let module = try pop()
            guard case .string(let m) = module, case .string(let n) = name else {
                throw fail("STACK_GLOBAL needs two strings, got \(module.kind) and \(name.kind)")
            }
            push(.global(m + "." + n))
        case 0x52:  // REDUCE
            let arguments = try pop()
            let callable = try pop()
            push(try calls.call(callable, arguments: try argumentList(arguments, "REDUCE"), via: "REDUCE", arena))
        case 0x81:  // NEWOBJ
            let arguments = try pop()
            let type = try pop()
            push(try calls.call(type, arguments: try argumentList(arguments, "NEWOBJ"), via: "NEWOBJ", arena))
        case 0x92:  // NEWOBJ_EX
            let keywords = try pop()
            let arguments = try pop()
            let type = try pop()
            let result = try calls.call(
                type, arguments: try argumentList(arguments, "NEWOBJ_EX"), via: "NEWOBJ_EX", arena)
            if case .object(let object) = result { object.keywordArguments = keywords }
            push(result)
        case 0x69:  // INST (text module and name, arguments since MARK)
            let module = try line()
            let name = try line()
            let arguments = try popToMark()
            push(try calls.call(.global(module + "." + name), arguments: arguments, via: "INST", arena))
        case 0x6F:  // OBJ (class and arguments since MARK)
            var items = try popToMark()
            guard !items.isEmpty else { throw fail("OBJ without a class") }
            let type = items.removeFirst()
            push(try calls.call(type, arguments: items, via: "OBJ", arena))
        case 0x62:  // BUILD
            let state = try pop()
            try calls.build(try top(), state: state)
        case 0x51:  // BINPERSID
            push(try persistentLoad(try pop()))
        case 0x50:  // PERSID (text)
            push(try persistentLoad(.string(try line())))
        case 0x82, 0x83, 0x84:  // EXT1, EXT2, EXT4
            throw fail("extension codes (copyreg's extension registry) are not supported")
        case 0x97, 0x98:  // NEXT_BUFFER, READONLY_BUFFER
            throw fail("out-of-band buffers (pickle protocol 5) are not supported")
        default:
            throw fail("unknown opcode 0x\(String(op, radix: 16)) (the data is damaged or not a pickle)")
        }
        return nil
    }

    private func argumentList(_ node: PickleNode, _ opcode: String) throws -> [PickleNode] {
        guard case .tuple(let t) = node else { throw fail("\(opcode) needs a tuple of arguments, got a \(node.kind)") }
        return t.items
    }

    private func append(_ items: [PickleNode], to target: PickleNode) throws {
        switch target {
        case .list(let list): list.items.append(contentsOf: items)
        case .object(let object): object.listItems.append(contentsOf: items)
        default: throw fail("APPEND to a \(target.kind), which is not a list")
        }
    }

    private func setItems(_ items: [PickleNode], into target: PickleNode) throws {
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of keys and values") }
        switch target {
        case .dict(let dict):
            for i in stride(from: 0, to: items.count, by: 2) { try dict.set(items[i], items[i + 1]) }
        case .object(let object):
            for i in stride(from: 0, to: items.count, by: 2) { object.dictItems.append((items[i], items[i + 1])) }
        default: throw fail("SETITEM on a \(target.kind), which is not a dict")
        }
    }

    private func add(_ items: [PickleNode], to set: PickleSet) throws {
        for item in items where set.keys.insert(try PickleKey(item)).inserted { set.items.append(item) }
    }

    private func parseInteger(_ text: String) throws -> Int64 {
        guard let value = Int64(text.trimmingCharacters(in: .whitespaces)) else {
            throw fail("integer '\(text.prefix(40))' is not a number or does not fit 64 bits")
        }
        return value
    }

    private func parseIndex(_ text: String) throws -> Int {
        guard let value = Int(text), value >= 0 else { throw fail("memo index '\(text.prefix(40))' is not valid") }
        return value
    }

    /// A little-endian two's-complement integer of any length.
    static func integer(_ bytes: UnsafeRawBufferPointer) -> PickleNode {
        var digits = Array(bytes)
        // Drop sign-extension bytes that do not change the value.
        while digits.count > 1 {
            let last = digits[digits.count - 1]
            let signOfNext = digits[digits.count - 2] & 0x80
            if (last == 0 && signOfNext == 0) || (last == 0xFF && signOfNext != 0) {
                digits.removeLast()
            } else {
                break
            }
        }
        guard digits.count <= 8 else { return .bigInt(digits) }
        guard let highest = digits.last else { return .int(0) }
        var value: UInt64 = highest & 0x80 != 0 ? ~0 : 0
        for (i, b) in digits.enumerated() {
            value &= ~(UInt64(0xFF) << (8 * UInt64(i)))
            value |= UInt64(b) << (8 * UInt64(i))
        }
        return .int(Int64(bitPattern: value))
    }
}
