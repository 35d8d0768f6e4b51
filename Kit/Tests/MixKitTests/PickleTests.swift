import Foundation
import MixKit
import Testing

/// The pickle machine on hand-built pickles: every opcode path it supports,
/// and every refusal.
@Suite struct PickleTests {
    func load(_ build: (inout PickleBuilder) -> Void, protocol version: UInt8? = 2, dataClasses: Set<String> = [])
        throws -> PickleValue
    {
        var p = PickleBuilder(protocol: version)
        build(&p)
        p.stop()
        return try Pickle.load(p.bytes, dataClasses: dataClasses)
    }

    func failure(_ build: (inout PickleBuilder) -> Void, dataClasses: Set<String> = []) -> PickleError? {
        do {
            _ = try load(build, dataClasses: dataClasses)
            return nil
        } catch let error as PickleError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func scalarsOfEveryWidth() throws {
        #expect(try load { $0.none() } == .none)
        #expect(try load { $0.bool(true) } == .bool(true))
        #expect(try load { $0.bool(false) } == .bool(false))
        #expect(try load { $0.int(200) } == .int(200))  // BININT1
        #expect(try load { $0.int(60000) } == .int(60000))  // BININT2
        #expect(try load { $0.int(-5) } == .int(-5))  // BININT
        #expect(try load { $0.long1([0xFF]) } == .int(-1))
        #expect(try load { $0.long1([0x00, 0x80]) } == .int(-32768))
        #expect(try load { $0.long1([0x00, 0x80, 0x00]) } == .int(32768))
        #expect(try load { $0.long1([0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF]) } == .int(Int64.min))
        #expect(try load { $0.long1([]) } == .int(0))
        #expect(try load { $0.long1([1, 2, 3, 4, 5, 6, 7, 8, 9]) } == .bigInt([1, 2, 3, 4, 5, 6, 7, 8, 9]))
        #expect(try load { $0.op(0x8B, PickleBuilder.le(Int32(2)) + [0x01, 0xFF]) } == .int(-255))  // LONG4
        #expect(try load { $0.float(-2.5) } == .float(-2.5))
        #expect(try load { $0.string("héllo") } == .string("héllo"))
        #expect(try load { $0.shortString("s") } == .string("s"))
        #expect(try load { $0.op(0x8D, PickleBuilder.le(UInt64(2)) + Array("ok".utf8)) } == .string("ok"))
        #expect(try load { $0.op(0x55, [2] + Array("py".utf8)) } == .string("py"))  // SHORT_BINSTRING
        #expect(try load { $0.op(0x54, PickleBuilder.le(Int32(1)) + [0x41]) } == .string("A"))  // BINSTRING
        #expect(try load { $0.op(0x43, [2, 1, 2]) } == .bytes([1, 2]))  // SHORT_BINBYTES
        #expect(try load { $0.op(0x42, PickleBuilder.le(UInt32(1)) + [9]) } == .bytes([9]))  // BINBYTES
        #expect(try load { $0.op(0x8E, PickleBuilder.le(UInt64(1)) + [7]) } == .bytes([7]))  // BINBYTES8
        #expect(try load { $0.op(0x96, PickleBuilder.le(UInt64(1)) + [6]) } == .bytes([6]))  // BYTEARRAY8
    }

    @Test func textOpcodesOfProtocolZero() throws {
        #expect(try load({ $0.op(0x49, Array("42\n".utf8)) }, protocol: nil) == .int(42))
        #expect(try load({ $0.op(0x49, Array("01\n".utf8)) }, protocol: nil) == .bool(true))
        #expect(try load({ $0.op(0x4C, Array("-7L\n".utf8)) }, protocol: nil) == .int(-7))
        #expect(try load({ $0.op(0x46, Array("0.5\n".utf8)) }, protocol: nil) == .float(0.5))
        let viaPutGet = try load(
            { b in
                b.op(0x28)
                b.op(0x49, Array("3\n".utf8))
                b.op(0x70, Array("0\n".utf8))  // PUT
                b.op(0x67, Array("0\n".utf8))  // GET
                b.op(0x6C)  // LIST
            }, protocol: nil)
        #expect(viaPutGet == .list([.int(3), .int(3)]))
        let dict = try load(
            { b in
                b.mark()
                b.string("k")
                b.int(1)
                b.op(0x64)  // DICT
            }, protocol: nil)
        #expect(dict == .dict([.init(key: .string("k"), value: .int(1))]))
        #expect(
            try load({ $0.op(0x50, Array("ref\n".utf8)) }, protocol: nil)
                == .object(
                    .init(type: "persistent", arguments: [.string("ref")], state: nil, listItems: [], dictItems: [])))
        let strings = failure { $0.op(0x53, Array("'x'\n".utf8)) }
        #expect(strings?.problem.contains("protocol 0") == true)
    }

    @Test func containersAndTuples() throws {
        #expect(try load { $0.emptyTuple() } == .tuple([]))
        #expect(
            try load { b in
                b.int(1); b.tuple1()
            } == .tuple([.int(1)]))
        #expect(
            try load { b in
                b.int(1); b.int(2); b.tuple2()
            } == .tuple([.int(1), .int(2)]))
        #expect(
            try load { b in
                b.int(1); b.int(2); b.int(3); b.tuple3()
            } == .tuple([.int(1), .int(2), .int(3)]))
        #expect(try load { $0.intTuple([4, 5, 6, 7]) } == .tuple([.int(4), .int(5), .int(6), .int(7)]))
        let list = try load { b in
            b.emptyList()
            b.int(1)
            b.append()
            b.mark()
            b.int(2)
            b.int(3)
            b.appends()
        }
        #expect(list == .list([.int(1), .int(2), .int(3)]))
        let dict = try load { b in
            b.emptyDict()
            b.string("a")
            b.int(1)
            b.setItem()
            b.mark()
            b.string("b")
            b.int(2)
            b.string("a")
            b.int(3)  // a key set twice keeps its first position and its last value
            b.setItems()
        }
        #expect(dict == .dict([.init(key: .string("a"), value: .int(3)), .init(key: .string("b"), value: .int(2))]))
        #expect(dict["b"] == .int(2))
        #expect(dict.keys == ["a", "b"])
        let set = try load { b in
            b.op(0x8F)  // EMPTY_SET
            b.mark()
            b.int(1)
            b.int(1)
            b.int(2)
            b.op(0x90)  // ADDITEMS
        }
        #expect(set == .set([.int(1), .int(2)]))
        let frozen = try load { b in
            b.mark()
            b.string("x")
            b.op(0x91)  // FROZENSET
        }
        #expect(frozen == .set([.string("x")]))
        // Tuple keys are hashable; list keys are not.
        let tupleKey = try load { b in
            b.emptyDict()
            b.intTuple([1, 2])
            b.none()
            b.setItem()
        }
        #expect(tupleKey == .dict([.init(key: .tuple([.int(1), .int(2)]), value: .none)]))
        let unhashable = failure { b in
            b.emptyDict()
            b.emptyList()
            b.none()
            b.setItem()
        }
        #expect(unhashable?.problem.contains("unhashable") == true)
    }

    @Test func memoAndStackOpcodes() throws {
        // A dict memoised while empty, filled, then fetched: the memo sees the filled dict.
        let shared = try load { b in
            b.emptyList()
            b.emptyDict()
            b.binPut(0)
            b.string("k")
            b.int(1)
            b.setItem()
            b.append()
            b.binGet(0)
            b.append()
        }
        let filled = PickleValue.dict([.init(key: .string("k"), value: .int(1))])
        #expect(shared == .list([filled, filled]))
        let long = try load { b in
            b.string("v")
            b.op(0x72, PickleBuilder.le(UInt32(70000)))  // LONG_BINPUT
            b.op(0x30)  // POP
            b.op(0x6A, PickleBuilder.le(UInt32(70000)))  // LONG_BINGET
        }
        #expect(long == .string("v"))
        let memoize = try load(
            { b in
                b.op(0x95, PickleBuilder.le(UInt64(6)))  // FRAME
                b.shortString("m")
                b.memoize()
                b.op(0x30)
                b.binGet(0)
            }, protocol: 4)
        #expect(memoize == .string("m"))
        let dup = try load { b in
            b.int(5)
            b.op(0x32)  // DUP
            b.tuple2()
        }
        #expect(dup == .tuple([.int(5), .int(5)]))
        let popMark = try load { b in
            b.int(1)
            b.mark()
            b.int(2)
            b.int(3)
            b.op(0x31)  // POP_MARK
        }
        #expect(popMark == .int(1))
        let popEmptyMark = try load { b in
            b.int(1)
            b.mark()
            b.op(0x30)  // POP with nothing above the mark removes the mark
        }
        #expect(popEmptyMark == .int(1))
        #expect(failure { $0.binGet(3) }?.problem.contains("never stored") == true)
        #expect(failure { $0.tuple2() }?.problem.contains("stack is empty") == true)
        #expect(failure { $0.tuple() }?.problem.contains("no MARK") == true)
        // Values below a MARK are out of reach until the mark is closed.
        #expect(
            failure { b in
                b.int(1); b.mark(); b.tuple1()
            }?.problem.contains("stack is empty") == true)
        #expect(
            failure { b in
                b.emptyDict(); b.mark(); b.int(1); b.setItems()
            }?.problem.contains("odd") == true)
    }

    @Test func globalsAreNamesAndAllowedCallsAreData() throws {
        // Naming a dangerous function without calling it is harmless data.
        #expect(try load { $0.global("os", "system") } == .global("os.system"))
        #expect(try load({ $0.stackGlobal("torch", "float16") }, protocol: 4) == .global("torch.float16"))
        // OrderedDict from pairs, then its _metadata attribute set by BUILD.
        let ordered = try load { b in
            b.global("collections", "OrderedDict")
            b.emptyTuple()
            b.reduce()
            b.mark()
            b.string("w")
            b.int(1)
            b.setItems()
            b.emptyDict()
            b.build()
        }
        #expect(ordered == .dict([.init(key: .string("w"), value: .int(1))]))
        // argparse.Namespace through NEWOBJ and BUILD, as the official checkpoints hold it.
        let namespace = try load { b in
            b.global("argparse", "Namespace")
            b.emptyTuple()
            b.newObj()
            b.dict([("lr", { $0.float(0.5) })])
            b.build()
        }
        guard case .object(let object) = namespace else {
            Issue.record("\(namespace)")
            return
        }
        #expect(object.type == "argparse.Namespace")
        #expect(namespace["lr"] == .float(0.5))
        #expect(namespace.description == "argparse.Namespace({'lr': 0.5})")
        // NEWOBJ_EX, INST and OBJ on data classes.
        let ex = try load(
            { b in
                b.stackGlobal("datetime", "timedelta")
                b.intTuple([1])
                b.emptyDict()
                b.op(0x92)
            }, protocol: 4)
        #expect(
            ex
                == .object(
                    .init(type: "datetime.timedelta", arguments: [.int(1)], state: nil, listItems: [], dictItems: [])))
        let inst = try load { b in
            b.mark()
            b.int(2)
            b.op(0x69, Array("builtins\ncomplex\n".utf8))  // INST
        }
        #expect(
            inst
                == .object(
                    .init(type: "builtins.complex", arguments: [.int(2)], state: nil, listItems: [], dictItems: [])))
        let obj = try load { b in
            b.mark()
            b.global("torch", "device")
            b.string("cpu")
            b.op(0x6F)  // OBJ
        }
        #expect(
            obj
                == .object(
                    .init(type: "torch.device", arguments: [.string("cpu")], state: nil, listItems: [], dictItems: [])))
        // Bytes pickled by protocol 2 through _codecs.encode; sets through builtins.set; torch.Size.
        let encoded = try load { b in
            b.global("_codecs", "encode")
            b.string("\u{ff}A")
            b.string("latin1")
            b.tuple2()
            b.reduce()
        }
        #expect(encoded == .bytes([0xFF, 0x41]))
        let set = try load { b in
            b.global("builtins", "set")
            b.emptyList()
            b.mark()
            b.int(1)
            b.int(1)
            b.appends()
            b.tuple1()
            b.reduce()
        }
        #expect(set == .set([.int(1)]))
        let size = try load { b in
            b.global("torch", "Size")
            b.intTuple([2, 3])
            b.tuple1()
            b.reduce()
        }
        #expect(size == .tuple([.int(2), .int(3)]))
        // Storages named by persistent ids, and tensors over them (described, no data).
        let tensor = try load { $0.tensor("FloatStorage", key: "0", count: 6, shape: [2, 3], strides: [3, 1]) }
        #expect(tensor == .tensor(dtype: .f32, shape: [2, 3]))
        // A class the caller allows as data.
        let allowed = try load(
            { b in
                b.global("easydict", "EasyDict")
                b.emptyTuple()
                b.newObj()
                b.mark()
                b.string("k")
                b.int(1)
                b.setItems()
            }, dataClasses: ["easydict.EasyDict"])
        guard case .object(let easy) = allowed else {
            Issue.record("\(allowed)")
            return
        }
        #expect(easy.dictItems == [.init(key: .string("k"), value: .int(1))])
    }

    /// Each way a pickle could run code is refused, naming the global.
    @Test func dangerousCallsAreRefusedByName() throws {
        func expectRefused(
            _ global: String, sourceLocation: SourceLocation = #_sourceLocation, _ build: (inout PickleBuilder) -> Void
        ) {
            let error = failure(build)
            #expect(error?.refusedGlobal == global, "\(String(describing: error))", sourceLocation: sourceLocation)
            #expect(error?.problem.contains("`\(global)`") == true, sourceLocation: sourceLocation)
            #expect(error?.problem.contains("nothing was executed") == true, sourceLocation: sourceLocation)
            #expect(error?.offset != nil, sourceLocation: sourceLocation)
        }
        func call(_ module: String, _ name: String) -> (inout PickleBuilder) -> Void {
            { b in
                b.global(module, name)
                b.string("touch /tmp/mixmae-pwned")
                b.tuple1()
                b.reduce()
            }
        }
        expectRefused("os.system", call("os", "system"))
        expectRefused("posix.system", call("posix", "system"))
        expectRefused("builtins.eval", call("builtins", "eval"))
        expectRefused("builtins.exec", call("builtins", "exec"))
        expectRefused("builtins.__import__", call("builtins", "__import__"))
        expectRefused("builtins.getattr", call("builtins", "getattr"))
        expectRefused("subprocess.check_output", call("subprocess", "check_output"))
        expectRefused("subprocess.Popen") { b in
            b.stackGlobal("subprocess", "Popen")
            b.string("sh")
            b.tuple1()
            b.newObj()
        }
        expectRefused("os.system") { b in
            b.mark()
            b.string("sh")
            b.op(0x69, Array("os\nsystem\n".utf8))  // INST
        }
        expectRefused("os.system") { b in
            b.mark()
            b.global("os", "system")
            b.string("sh")
            b.op(0x6F)  // OBJ
        }
        expectRefused("builtins.eval") { b in
            b.stackGlobal("builtins", "eval")
            b.emptyTuple()
            b.emptyDict()
            b.op(0x92)  // NEWOBJ_EX
        }
        expectRefused("os.environ") { b in
            b.global("os", "environ")  // BUILD on a global would set its attributes
            b.emptyDict()
            b.build()
        }
        expectRefused("torch._utils._rebuild_qtensor", call("torch._utils", "_rebuild_qtensor"))
        expectRefused("models.MixMIM") { b in  // a whole pickled model
            b.global("models", "MixMIM")
            b.emptyTuple()
            b.newObj()
        }
        // Tensor rebuilding as another type is refused too.
        expectRefused("os.system") { b in
            b.global("torch._tensor", "_rebuild_from_type_v2")
            b.mark()
            b.global("torch._utils", "_rebuild_tensor_v2")
            b.global("os", "system")
            b.emptyTuple()
            b.emptyDict()
            b.tuple()
            b.reduce()
        }
        // Calls on values that are not globals.
        #expect(
            failure { b in
                b.int(1); b.emptyTuple(); b.reduce()
            }?.problem.contains("only named functions") == true)
    }

    @Test func malformedPicklesFailCleanly() throws {
        func expectFailure(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                let value = try Pickle.load(bytes)
                Issue.record("read \(value)", sourceLocation: sourceLocation)
            } catch let error as PickleError {
                #expect(error.description.contains(fragment), "\(error)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("\(error)", sourceLocation: sourceLocation)
            }
        }
        expectFailure([], "truncated")
        expectFailure([0x80], "truncated")
        expectFailure([0x80, 0x06, 0x4E, 0x2E], "protocol 6")
        expectFailure([0x80, 0x02, 0xFF], "unknown opcode 0xff")
        expectFailure([0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F], "runs past the end")
        expectFailure([0x80, 0x04, 0x95] + PickleBuilder.le(UInt64.max), "runs past the end")
        expectFailure([0x80, 0x02, 0x82, 0x01], "extension codes")
        expectFailure([0x80, 0x05, 0x97], "out-of-band")
        expectFailure([0x80, 0x02, 0x4E], "truncated")  // no STOP
        expectFailure([0x80, 0x02, 0x63, 0x6F, 0x73], "no end of line")
    }

    /// Structures deep or cyclic enough to overflow a recursive reader are read and released flat.
    @Test func deepAndCyclicStructuresDoNotCrash() throws {
        var deep = PickleBuilder()
        let depth = 200_000
        for _ in 0..<depth { deep.emptyList() }
        for _ in 0..<(depth - 1) { deep.append() }
        deep.stop()
        let value = try Pickle.load(deep.bytes)
        #expect(value.description.contains("..."))
        var tuples = PickleBuilder()
        tuples.none()
        for _ in 0..<depth { tuples.tuple1() }
        tuples.stop()
        _ = try Pickle.load(tuples.bytes)
        // Each level holds the previous one twice: 2^60 values if expanded, cut by the snapshot budget.
        var doubling = PickleBuilder()
        doubling.emptyList()
        for level in 0..<60 {
            doubling.op(0x72, PickleBuilder.le(UInt32(level)))  // LONG_BINPUT
            doubling.op(0x6A, PickleBuilder.le(UInt32(level)))  // LONG_BINGET
            doubling.tuple2()
        }
        doubling.stop()
        let started = Date()
        let expanded = try Pickle.load(doubling.bytes)
        #expect(expanded.description.hasPrefix("(((("))
        #expect(Date().timeIntervalSince(started) < 5)
        // A list that contains itself.
        let cycle = try load { b in
            b.emptyList()
            b.binPut(0)
            b.binGet(0)
            b.append()
        }
        #expect(cycle == .list([.elided]))
    }
}
