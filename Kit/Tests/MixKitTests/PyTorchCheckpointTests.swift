import Foundation
import MixKit
import Testing

/// `torch.save` files read as data: the fixtures made by torch 2.x must come
/// out exactly as their `.expected.safetensors` (names, dtypes, shapes, bytes).
@Suite struct PyTorchCheckpointTests {
    static let folder = SharedInputs.path + "/fixtures/pth"

    /// Every tensor of `weights` equals the expected file's, byte for byte, and nothing is missing.
    func expectExactly(_ weights: PyTorchStateDict, _ expectedPath: String) throws {
        let expected = try SafeTensorsFile(path: expectedPath)
        #expect(Set(weights.names) == Set(expected.names))
        #expect(weights.names.count == expected.names.count)
        for name in expected.names {
            let want = try expected.raw(name)
            let got = try weights.raw(name)
            #expect(got.dtype == want.dtype, "\(name)")
            #expect(got.shape == want.shape, "\(name)")
            #expect(got.bytes == want.bytes, "\(name)")
        }
    }

    @Test func officialLayoutGivesTheModelStateDictExactly() throws {
        let checkpoint = try PyTorchCheckpoint(path: Self.folder + "/official_layout.pth")
        #expect(checkpoint.format == .zip)
        let weights = try checkpoint.stateDict()
        #expect(weights.key == "model")
        #expect(weights.names.count == 101)
        #expect(weights.names.first == "absolute_pos_embed" || weights.names.contains("absolute_pos_embed"))
        try expectExactly(weights, Self.folder + "/official_layout.expected.safetensors")
        // It is the parity case's model: `forward --weights` on the .pth equals the safetensors run.
        try expectExactly(weights, SharedInputs.path + "/fixtures/parity/pretrain_small/weights.safetensors")
        // The rest of the file is readable as data; `args` is an opaque argparse.Namespace.
        let value = checkpoint.value
        #expect(Set(value.keys).isSuperset(of: ["model", "optimizer", "epoch", "scaler", "args"]))
        guard case .object(let args)? = value["args"] else {
            Issue.record("args is \(String(describing: value["args"]))")
            return
        }
        #expect(args.type == "argparse.Namespace")
        #expect(value["args"]?["batch_size"] == .int(128))
        #expect(value["args"]?["model"] == .string("mixmim_base"))
        #expect(value["args"]?["norm_pix_loss"] == .bool(true))
        #expect(checkpoint.candidates.contains { $0.key == "model" && $0.tensorCount == 101 })
    }

    @Test func viewsDtypesAndModulePrefixesComeOutExactly() throws {
        for file in ["views.pth", "views_legacy.pth"] {
            let checkpoint = try PyTorchCheckpoint(path: Self.folder + "/" + file)
            #expect(checkpoint.format == (file == "views.pth" ? .zip : .legacy))
            let weights = try checkpoint.stateDict()
            #expect(weights.key == "state_dict")
            #expect(weights.strippedModulePrefix)
            try expectExactly(weights, Self.folder + "/views.expected.safetensors")
            #expect(weights.dtype(of: "index") == .i64)
            #expect(weights.dtype(of: "flag") == .bool)
            #expect(weights.shape(of: "scalar") == [])
            #expect(weights.shape(of: "empty") == [0, 4])
            // Zero stride: every row of `expanded` is the same three-element column broadcast.
            let expanded = try weights.tensor("expanded")
            #expect(expanded.shape == [3, 4])
            #expect(Set(expanded.scalars[0..<4]).count == 1)
        }
    }

    @Test func maliciousPickleIsRefusedWithoutRunningAnything() throws {
        let marker = "/tmp/mixmae-pwned"
        let existedBefore = FileManager.default.fileExists(atPath: marker)
        let path = Self.folder + "/malicious.pth"
        do {
            _ = try PyTorchCheckpoint(path: path)
            Issue.record("malicious.pth was read")
        } catch let error as PyTorchCheckpointError {
            #expect(error.refusedGlobal == "posix.system")
            #expect(error.description.hasPrefix(path))
            #expect(error.description.contains("posix.system"))
            #expect(error.description.contains("refused"))
            #expect(error.description.contains("nothing was executed"))
        }
        do {
            _ = try WeightsFile.open(path)
            Issue.record("malicious.pth was read as weights")
        } catch let error as PyTorchCheckpointError {
            #expect(error.refusedGlobal == "posix.system")
        }
        if !existedBefore { #expect(!FileManager.default.fileExists(atPath: marker)) }
    }

    @Test func importRoundTripKeepsNamesDtypesAndBytes() throws {
        let dir = try temporaryDirectory("pth")
        for file in ["official_layout", "views"] {
            let weights = try PyTorchCheckpoint(path: Self.folder + "/\(file).pth").stateDict()
            let out = dir.appendingPathComponent("\(file).safetensors").path
            try SafeTensors.write(weights.safeTensorsValues(), metadata: ["source": file], to: out)
            let back = try SafeTensorsFile(path: out)
            #expect(back.names == weights.names.sorted())
            for name in weights.names { #expect(try back.raw(name) == (try weights.raw(name)), "\(name)") }
            try expectExactly(weights, Self.folder + "/\(file).expected.safetensors")
        }
        let back = try SafeTensorsFile(path: dir.appendingPathComponent("views.safetensors").path)
        #expect(back.entries["index"]?.dtype == .i64)
        #expect(try back.integers("index").count == 49)
    }

    @Test func weightsFileOpensEitherFormatByContent() throws {
        let fromPth = try WeightsFile.open(Self.folder + "/official_layout.pth")
        let fromSafetensors = try WeightsFile.open(Self.folder + "/official_layout.expected.safetensors")
        #expect(Set(fromPth.names) == Set(fromSafetensors.names))
        let name = "layers.0.blocks.0.attn.qkv.weight"
        #expect(try fromPth.tensor(name).scalars == (try fromSafetensors.tensor(name)).scalars)
        #expect(fromPth.shape(of: name) == [48, 16])
        let floats = try fromPth.tensors()
        #expect(floats.count == 101)
        // A key chooses another dict; an unknown key lists what there is.
        #expect(throws: PyTorchCheckpointError.self) {
            try WeightsFile.open(Self.folder + "/official_layout.pth", key: "nope")
        }
    }

    // MARK: - Hand-built checkpoints

    func checkpoint(_ bytes: [UInt8], options: PyTorchReadOptions = .init()) throws -> PyTorchCheckpoint {
        try PyTorchCheckpoint(bytes: InputBytes(copying: bytes, path: "test.pth"), options: options)
    }

    func error(_ bytes: [UInt8], key: String? = nil, options: PyTorchReadOptions = .init()) -> PyTorchCheckpointError? {
        do {
            _ = try checkpoint(bytes, options: options).stateDict(key: key)
            return nil
        } catch let error as PyTorchCheckpointError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    /// `{outer: {names...}}` with a float tensor [2] each, over one storage of 4 floats.
    func twoDicts(_ outer: [String], zip64: Bool = false) -> [UInt8] {
        var p = PickleBuilder()
        p.dict(
            outer.map { key in
                (
                    key,
                    { (b: inout PickleBuilder) in
                        b.dict([
                            ("w", { $0.tensor("FloatStorage", key: "0", count: 4, shape: [2], strides: [1]) }),
                            (
                                "b",
                                { $0.tensor("FloatStorage", key: "0", count: 4, offset: 2, shape: [2], strides: [1]) }
                            ),
                        ])
                    }
                )
            } + [("epoch", { $0.int(3) })])
        p.stop()
        return ZipBuilder.torch(pickle: p.bytes, storages: [("0", float32Bytes([1, 2, 3, 4]))], zip64: zip64)
    }

    @Test func ambiguousStateDictsAreListedAndAKeyChooses() throws {
        let bytes = twoDicts(["student", "teacher"])
        let failure = try #require(error(bytes))
        #expect(failure.description.contains("'student' (2 tensors)"))
        #expect(failure.description.contains("'teacher' (2 tensors)"))
        #expect(failure.candidates.map(\.key) == ["student", "teacher"])
        let teacher = try checkpoint(bytes).stateDict(key: "teacher")
        #expect(teacher.names == ["w", "b"])
        #expect(try teacher.tensor("b").scalars == [3, 4])
        // A preferred key wins over the others.
        let preferred = try checkpoint(twoDicts(["model", "model_ema"])).stateDict()
        #expect(preferred.key == "model")
        let unknown = try #require(error(bytes, key: "nope"))
        #expect(unknown.description.contains("'student', 'teacher', 'epoch'"))
        let notDict = try #require(error(bytes, key: "epoch"))
        #expect(notDict.description.contains("holds a int"))
    }

    @Test func nestedKeyPathsAndZip64Archives() throws {
        var p = PickleBuilder()
        p.dict([
            (
                "ckpt",
                { b in
                    b.dict([
                        (
                            "model.v1",
                            { b in
                                b.dict([
                                    ("w", { $0.tensor("FloatStorage", key: "0", count: 4, shape: [4], strides: [1]) })
                                ])
                            }
                        )
                    ])
                }
            )
        ])
        p.stop()
        for zip64 in [false, true] {
            let bytes = ZipBuilder.torch(pickle: p.bytes, storages: [("0", float32Bytes([1, 2, 3, 4]))], zip64: zip64)
            let weights = try checkpoint(bytes).stateDict(key: "ckpt.model.v1")
            #expect(try weights.tensor("w").scalars == [1, 2, 3, 4])
        }
        #expect(try checkpoint(twoDicts(["model"], zip64: true)).stateDict().names == ["w", "b"])
    }

    @Test func legacyStorageViewsAndEveryIntegerDtype() throws {
        // Legacy format: magic, protocol, sys info, pickle, keys, storages (count + bytes).
        func legacy(_ main: PickleBuilder, keys: [String], storages: [[UInt8]], counts: [Int]) -> [UInt8] {
            var out: [UInt8] = []
            var magic = PickleBuilder()
            magic.long1([0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19])
            magic.stop()
            var version = PickleBuilder()
            version.int(1001)
            version.stop()
            var info = PickleBuilder()
            info.dict([("little_endian", { $0.bool(true) })])
            info.stop()
            var keyList = PickleBuilder()
            keyList.emptyList()
            keyList.mark()
            for k in keys { keyList.string(k) }
            keyList.appends()
            keyList.stop()
            out = magic.bytes + version.bytes + info.bytes + main.bytes + keyList.bytes
            for (data, count) in zip(storages, counts) { out += PickleBuilder.le(Int64(count)) + data }
            return out
        }
        var p = PickleBuilder()
        p.dict([
            // A view of elements 2..<5 of root storage "r" (6 floats), then [1, 2] of that view.
            (
                "v",
                {
                    $0.tensor(
                        "FloatStorage", key: "r", count: 6, offset: 1, shape: [2], strides: [1],
                        legacyView: .some(("view", 2, 3)))
                }
            ),
            ("i8", { $0.tensor("CharStorage", key: "c", count: 2, shape: [2], strides: [1], legacyView: .some(nil)) }),
            ("i16", { $0.tensor("ShortStorage", key: "s", count: 1, shape: [], strides: [], legacyView: .some(nil)) }),
            (
                "f64",
                { $0.tensor("DoubleStorage", key: "d", count: 1, shape: [1], strides: [1], legacyView: .some(nil)) }
            ),
        ])
        p.stop()
        let bytes = legacy(
            p, keys: ["r", "c", "s", "d"],
            storages: [
                float32Bytes([0, 1, 2, 3, 4, 5]), [0xFF, 0x05], PickleBuilder.le(Int16(-300)),
                PickleBuilder.le(2.5.bitPattern),
            ],
            counts: [6, 2, 1, 1])
        let cp = try checkpoint(bytes)
        #expect(cp.format == .legacy)
        let weights = try cp.stateDict()
        #expect(try weights.tensor("v").scalars == [3, 4])
        #expect(try weights.raw("i8").integers() == [-1, 5])
        #expect(try weights.raw("i16").integers() == [-300])
        #expect(try weights.raw("f64").dtype == .f64)
        #expect(try weights.tensor("f64").scalars == [2.5])
        // The storage data cut short: a clear error, no crash.
        let cut = try #require(error(Array(bytes.dropLast(4))))
        #expect(cut.description.contains("storage 'd'"))
    }

    @Test func bigEndianArchivesAreSwapped() throws {
        var p = PickleBuilder()
        p.dict([("x", { $0.tensor("LongStorage", key: "0", count: 2, shape: [2], strides: [1]) })])
        p.stop()
        let data = PickleBuilder.le(Int64(7).bigEndian) + PickleBuilder.le(Int64(-2).bigEndian)
        let bytes = ZipBuilder.torch(pickle: p.bytes, storages: [("0", data)], byteorder: "big")
        #expect(try checkpoint(bytes).stateDict().raw("x").integers() == [7, -2])
    }

    @Test func tensorRebuildingVariants() throws {
        var p = PickleBuilder()
        p.dict([
            // _rebuild_parameter(_rebuild_tensor_v2(...), True, OrderedDict())
            (
                "param",
                { b in
                    b.global("torch._utils", "_rebuild_parameter")
                    b.mark()
                    b.tensor("HalfStorage", key: "h", count: 2, shape: [2], strides: [1])
                    b.bool(true)
                    b.emptyOrderedDict()
                    b.tuple()
                    b.reduce()
                }
            ),
            // _rebuild_tensor_v3 over an untyped storage with dtype torch.int32.
            (
                "v3",
                { b in
                    b.global("torch._utils", "_rebuild_tensor_v3")
                    b.mark()
                    b.storage("UntypedStorage", key: "u", count: 8)
                    b.int(1)
                    b.intTuple([1])
                    b.intTuple([1])
                    b.bool(false)
                    b.emptyOrderedDict()
                    b.global("torch", "int32")
                    b.tuple()
                    b.reduce()
                }
            ),
            // _rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, (...), {})
            (
                "typed",
                { b in
                    b.global("torch._tensor", "_rebuild_from_type_v2")
                    b.mark()
                    b.global("torch._utils", "_rebuild_tensor_v2")
                    b.global("torch", "Tensor")
                    b.mark()
                    b.storage("BFloat16Storage", key: "b", count: 1)
                    b.int(0)
                    b.intTuple([1, 1])
                    b.intTuple([1, 1])
                    b.bool(false)
                    b.emptyOrderedDict()
                    b.tuple()
                    b.emptyDict()
                    b.tuple()
                    b.reduce()
                }
            ),
        ])
        p.stop()
        let half = PickleBuilder.le(Float16(1.5).bitPattern) + PickleBuilder.le(Float16(-2).bitPattern)
        let bytes = ZipBuilder.torch(
            pickle: p.bytes,
            storages: [
                ("h", half), ("u", PickleBuilder.le(Int32(9)) + PickleBuilder.le(Int32(-4))),
                ("b", PickleBuilder.le(UInt16(Float(3).bitPattern >> 16))),
            ])
        let weights = try checkpoint(bytes).stateDict()
        #expect(try weights.tensor("param").scalars == [1.5, -2])
        #expect(weights.dtype(of: "param") == .f16)
        #expect(try weights.raw("v3").integers() == [-4])
        #expect(try weights.tensor("typed").scalars == [3])
        #expect(weights.shape(of: "typed") == [1, 1])
    }

    @Test func damagedArchivesGiveClearErrors() throws {
        var p = PickleBuilder()
        p.dict([("w", { $0.tensor("FloatStorage", key: "0", count: 4, shape: [2, 2], strides: [2, 1]) })])
        p.stop()
        let good = ZipBuilder.torch(pickle: p.bytes, storages: [("0", float32Bytes([1, 2, 3, 4]))])
        #expect(try checkpoint(good).stateDict().tensor("w").scalars == [1, 2, 3, 4])

        func expectFailure(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            guard let failure = error(bytes) else {
                Issue.record("expected an error containing '\(fragment)'", sourceLocation: sourceLocation)
                return
            }
            #expect(failure.description.hasPrefix("test.pth: "), sourceLocation: sourceLocation)
            #expect(failure.description.contains(fragment), "\(failure.description)", sourceLocation: sourceLocation)
        }
        expectFailure(Array(good.prefix(good.count - 30)), "truncated")
        expectFailure([], "empty file")
        expectFailure(Array("hello world".utf8), "not a PyTorch checkpoint")
        // Storage record shorter than declared.
        expectFailure(ZipBuilder.torch(pickle: p.bytes, storages: [("0", float32Bytes([1, 2, 3]))]), "holds 12 bytes")
        // Missing storage record.
        expectFailure(ZipBuilder.torch(pickle: p.bytes, storages: []), "does not hold")
        // A view past its storage.
        var far = PickleBuilder()
        far.dict([("w", { $0.tensor("FloatStorage", key: "0", count: 4, offset: 3, shape: [2], strides: [1]) })])
        far.stop()
        expectFailure(
            ZipBuilder.torch(pickle: far.bytes, storages: [("0", float32Bytes([1, 2, 3, 4]))]), "reaches element 4")
        // Damaged storage bytes fail the CRC check when read.
        var zip = ZipBuilder()
        zip.add("archive/data.pkl", p.bytes)
        zip.add("archive/data/0", float32Bytes([1, 2, 3, 4]), crc: 0x1234_5678)
        expectFailure(zip.bytes, "CRC-32")
        // Compressed entries (re-zipped) are refused with what to do.
        var deflated = ZipBuilder()
        deflated.add("archive/data.pkl", p.bytes, method: 8)
        expectFailure(deflated.bytes, "compressed (deflate)")
        // TorchScript archives and other zips.
        var script = ZipBuilder()
        script.add("model/constants.pkl", [0x80, 0x02, 0x4E, 0x2E])
        expectFailure(script.bytes, "TorchScript")
        var other = ZipBuilder()
        other.add("a.npy", [1, 2, 3])
        expectFailure(other.bytes, "without data.pkl")
        // A safetensors file given by mistake.
        let safetensors = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/views.expected.safetensors"))
        expectFailure(Array(safetensors), "safetensors file")
        // A zero-stride view that would expand past the limit.
        var huge = PickleBuilder()
        huge.dict([
            ("w", { $0.tensor("FloatStorage", key: "0", count: 1, shape: [1 << 20, 1 << 20], strides: [0, 0]) })
        ])
        huge.stop()
        let failure = error(
            ZipBuilder.torch(pickle: huge.bytes, storages: [("0", float32Bytes([1]))]),
            options: PyTorchReadOptions(maxTensorBytes: 1 << 30))
        #expect(failure?.description.contains("more than the limit") == true)
        // Shapes whose byte count overflows.
        var overflow = PickleBuilder()
        overflow.dict([
            (
                "w",
                {
                    $0.tensor(
                        "FloatStorage", key: "0", count: 1, shape: [1 << 31, 1 << 31, 1 << 31], strides: [0, 0, 0])
                }
            )
        ])
        overflow.stop()
        expectFailure(ZipBuilder.torch(pickle: overflow.bytes, storages: [("0", float32Bytes([1]))]), "overflows")
    }

    @Test func onlyRegularFilesAreOpened() throws {
        let dir = try temporaryDirectory("fifo")
        let fifo = dir.appendingPathComponent("weights.pth").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Date()
        for path in ["/dev/zero", fifo, dir.path] {
            #expect(throws: PyTorchCheckpointError.self) { try PyTorchCheckpoint(path: path) }
            #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
            do {
                _ = try WeightsFile.open(path)
                Issue.record("\(path) was opened")
            } catch {
                #expect(String(describing: error).contains("not a regular file"), "\(error)")
            }
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }
}
