import Foundation

/// Reads the two layouts of `torch.save` files into a pickle graph whose
/// storages point at the file's bytes.
struct PyTorchFileReader {
    let bytes: InputBytes
    let arena: PickleArena
    let calls: PickleCalls

    /// torch's legacy magic number 0x1950a86a20f9469cfc6c, little-endian.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let legacyProtocol: Int64 = 1001

    private var path: String { bytes.path }

    private func fail(_ problem: String, refused: String? = nil) -> PyTorchCheckpointError {
        PyTorchCheckpointError(path: path, problem: problem, refusedGlobal: refused)
    }

    private func fail(_ error: PickleError, in record: String) -> PyTorchCheckpointError {
        fail("\(record) \(error.description)", refused: error.refusedGlobal)
    }

    func read() throws -> (PyTorchCheckpoint.Format, PickleNode) {
        let buffer = bytes.buffer
        if StoredZipArchive.looksLikeZip(buffer) { return (.zip, try readZip()) }
        if WeightsFile.looksLikeSafeTensors(buffer) {
            throw fail("this is a safetensors file, not a PyTorch checkpoint: read it as safetensors")
        }
        if buffer.first == 0x80 { return (.legacy, try readLegacy()) }
        let head = buffer.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        throw fail(
            "not a PyTorch checkpoint: it is neither a zip archive (torch >= 1.6) nor a pickle (older torch); it starts with \(head.isEmpty ? "nothing (empty file)" : head)"
        )
    }

    // MARK: - zip (torch >= 1.6)

    private func readZip() throws -> PickleNode {
        let archive: StoredZipArchive
        do {
            archive = try StoredZipArchive(bytes: bytes.buffer)
        } catch let error as StoredZipArchive.Failure {
            throw fail("not a readable zip archive: \(error.problem)")
        }
        guard
            let pickle = archive.entries.first(where: {
                let parts = $0.name.split(separator: "/", omittingEmptySubsequences: false)
                return parts.last == "data.pkl" && parts.count <= 2
            })
        else {
            let names = archive.entries.prefix(6).map(\.name).joined(separator: ", ")
            if archive.entries.contains(where: { $0.name.hasSuffix("/constants.pkl") || $0.name.contains("/code/") }) {
                throw fail(
                    "this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint: save the model's state_dict with torch.save"
                )
            }
            throw fail("a zip archive without data.pkl, so not a torch.save checkpoint (it holds \(names))")
        }
        let prefix = String(pickle.name.dropLast("data.pkl".count))
        let pickleBytes: UnsafeRawBufferPointer
        do {
            pickleBytes = try archive.contents(of: pickle)
        } catch let error as StoredZipArchive.Failure {
            throw fail(error.problem)
        }
        var bigEndian = false
        if let order = archive.entry(prefix + "byteorder") {
            let text = String(
                decoding: (try? archive.contents(of: order)) ?? UnsafeRawBufferPointer(start: nil, count: 0),
                as: UTF8.self)
            guard text == "little" || text == "big" else {
                throw fail("\(order.name) says '\(text.prefix(20))', neither 'little' nor 'big'")
            }
            bigEndian = text == "big"
        }
        var storages: [String: PickleStorage] = [:]
        let arena = self.arena
        let machine = PickleMachine(bytes: pickleBytes, arena: arena, calls: calls) { id in
            let sid = try StorageID(id)
            if let known = storages[sid.key] { return .storage(known) }
            let name = prefix + "data/" + sid.key
            guard let entry = archive.entry(name) else {
                throw PickleError(problem: "the pickle uses storage '\(name)', which the archive does not hold")
            }
            guard let need = CheckedSize.multiply(sid.count, sid.dtype.byteSize), need <= entry.size else {
                throw PickleError(
                    problem:
                        "storage '\(name)' is declared as \(sid.count) x \(sid.dtype.rawValue) but the archive holds \(entry.size) bytes for it"
                )
            }
            let data: UnsafeRawBufferPointer
            do {
                data = try archive.contents(of: entry, verify: false)
            } catch let error as StoredZipArchive.Failure {
                throw PickleError(problem: error.problem)
            }
            let storage = arena.keep(PickleStorage(key: name, dtype: sid.dtype, declaredCount: sid.count))
            storage.bytes = UnsafeRawBufferPointer(rebasing: data[0..<need])
            storage.needsByteSwap = bigEndian
            storage.verify = {
                do {
                    _ = try archive.contents(of: entry, verify: true)
                } catch let error as StoredZipArchive.Failure {
                    throw PickleError(problem: error.problem)
                }
            }
            storages[sid.key] = storage
            return .storage(storage)
        }
        do {
            return try machine.load()
        } catch let error as PickleError {
            throw fail(error, in: pickle.name)
        }
    }

    // MARK: - legacy (torch < 1.6)

    private func readLegacy() throws -> PickleNode {
        let buffer = bytes.buffer
        let machine = PickleMachine(bytes: buffer, arena: arena, calls: calls) { id in
            throw PickleError(problem: "a persistent id (\(id.kind)) where none belongs")
        }
        func load(_ what: String) throws -> PickleNode {
            do {
                return try machine.load()
            } catch let error as PickleError {
                throw fail(error, in: what)
            }
        }
        let magic = try load("the first pickle")
        guard case .bigInt(let digits) = magic, digits == Self.legacyMagic else {
            throw fail(
                "a pickle, but not one torch.save wrote (no magic number; it starts with a \(magic.kind)): mixmae reads torch.save files only"
            )
        }
        let version = try load("the protocol pickle")
        guard case .int(Self.legacyProtocol) = version else {
            throw fail("legacy torch format with protocol version \(version.kind), not \(Self.legacyProtocol)")
        }
        var littleEndian = true
        if case .dict(let info) = try load("the system-info pickle"),
            case .bool(let little)? = info.value(
                forString: "little_endian")
        {
            littleEndian = little
        }
        var roots: [String: PickleStorage] = [:]
        var views: [String: PickleStorage] = [:]
        let arena = self.arena
        machine.persistentLoad = { id in
            let sid = try StorageID(id)
            let root: PickleStorage
            if let known = roots[sid.key] {
                root = known
            } else {
                root = arena.keep(PickleStorage(key: sid.key, dtype: sid.dtype, declaredCount: sid.count))
                root.needsByteSwap = !littleEndian
                roots[sid.key] = root
            }
            guard let view = sid.view else { return .storage(root) }
            if let known = views[view.key] { return .storage(known) }
            let storage = arena.keep(PickleStorage(key: view.key, dtype: root.dtype, declaredCount: view.count))
            storage.base = root
            storage.baseOffset = view.offset
            storage.needsByteSwap = root.needsByteSwap
            views[view.key] = storage
            return .storage(storage)
        }
        let root = try load("the main pickle")
        machine.persistentLoad = { id in throw PickleError(problem: "a persistent id (\(id.kind)) where none belongs") }
        let keyList = try load("the storage-key pickle")
        let keys: [PickleNode]
        switch keyList {
        case .list(let l): keys = l.items
        case .tuple(let t): keys = t.items
        default: throw fail("the storage-key pickle holds a \(keyList.kind), not a list of keys")
        }
        var position = machine.position
        for keyNode in keys {
            guard case .string(let key) = keyNode, let storage = roots[key] else {
                throw fail("the storage list names \(keyNode.kind) '\(keyNode)', which the main pickle never uses")
            }
            guard CheckedSize.rangeFits(offset: position, length: 8, in: buffer.count), let base = buffer.baseAddress
            else {
                throw fail("storage '\(key)' is missing: the file ends at byte \(buffer.count) (truncated)")
            }
            let raw = base.loadUnaligned(fromByteOffset: position, as: Int64.self)
            let count = littleEndian ? Int64(littleEndian: raw) : Int64(bigEndian: raw)
            guard count >= 0, let n = Int(exactly: count), let size = CheckedSize.multiply(n, storage.dtype.byteSize),
                CheckedSize.rangeFits(offset: position + 8, length: size, in: buffer.count)
            else {
                throw fail(
                    "storage '\(key)' at byte \(position) claims \(count) x \(storage.dtype.rawValue), more than the \(buffer.count - position - 8) bytes left (truncated?)"
                )
            }
            storage.bytes = UnsafeRawBufferPointer(rebasing: buffer[(position + 8)..<(position + 8 + size)])
            position += 8 + size
        }
        return root
    }
}

/// Copies a strided tensor out of its storage into contiguous bytes.
enum PyTorchTensors {
    /// The bytes `storage` gives (a legacy view resolved against its base), after its CRC check.
    static func bytes(of storage: PickleStorage) throws -> UnsafeRawBufferPointer {
        if let verify = storage.verify {
            try verify()
            storage.verify = nil
        }
        if let base = storage.base {
            let all = try bytes(of: base)
            let size = storage.dtype.byteSize
            guard let start = CheckedSize.multiply(storage.baseOffset, size),
                let length = CheckedSize.multiply(storage.declaredCount, size),
                CheckedSize.rangeFits(offset: start, length: length, in: all.count)
            else {
                throw PickleError(
                    problem:
                        "storage view '\(storage.key)' (\(storage.declaredCount) elements at \(storage.baseOffset)) lies outside storage '\(base.key)' (\(all.count / size) elements)"
                )
            }
            return UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
        }
        guard let data = storage.bytes else {
            throw PickleError(problem: "storage '\(storage.key)' has no data in the file")
        }
        return data
    }

    static func materialize(_ tensor: PickleTensor, limit: Int) throws -> RawTensor {
        let size = tensor.dtype.byteSize
        guard let count = CheckedSize.elementCount(tensor.shape), let total = CheckedSize.multiply(count, size) else {
            throw PickleError(problem: "the shape's byte count overflows 64 bits")
        }
        guard total <= limit else {
            throw PickleError(
                problem: "it needs \(ByteCount.describe(total)), more than the limit of \(ByteCount.describe(limit))")
        }
        var out = [UInt8](repeating: 0, count: total)
        guard count > 0 else { return try RawTensor(dtype: tensor.dtype, shape: tensor.shape, bytes: out) }
        let data = try bytes(of: tensor.storage)
        var last = tensor.offset
        for (d, s) in zip(tensor.shape, tensor.strides) {
            guard let step = CheckedSize.multiply(d - 1, s), let next = CheckedSize.add(last, step) else {
                throw PickleError(problem: "its strides \(tensor.strides) overflow 64-bit offsets")
            }
            last = next
        }
        guard let end = CheckedSize.add(last, 1).flatMap({ CheckedSize.multiply($0, size) }), end <= data.count else {
            throw PickleError(
                problem:
                    "its view (offset \(tensor.offset), strides \(tensor.strides)) reaches element \(last) of storage '\(tensor.storage.key)', which holds \(data.count / size) of \(tensor.dtype.rawValue)"
            )
        }
        out.withUnsafeMutableBytes { destination in
            copy(tensor, from: data.baseAddress!, to: destination.baseAddress!, elementSize: size, count: count)
            if tensor.storage.needsByteSwap && size > 1 {
                for e in 0..<count {
                    var element = UnsafeMutableRawBufferPointer(rebasing: destination[(e * size)..<((e + 1) * size)])
                    element.reverse()
                }
            }
        }
        return try RawTensor(dtype: tensor.dtype, shape: tensor.shape, bytes: out)
    }

    /// Row by row over the outer dimensions; each row one copy when its stride is 1.
    private static func copy(
        _ tensor: PickleTensor, from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer,
        elementSize size: Int, count: Int
    ) {
        let shape = tensor.shape
        let strides = tensor.strides
        let rank = shape.count
        guard rank > 0 else {
            destination.copyMemory(from: source + tensor.offset * size, byteCount: size)
            return
        }
        let inner = shape[rank - 1]
        let innerStride = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank - 1)
        var rowStart = tensor.offset
        var written = 0
        for _ in 0..<(count / inner) {
            if innerStride == 1 {
                (destination + written).copyMemory(from: source + rowStart * size, byteCount: inner * size)
            } else {
                for j in 0..<inner {
                    (destination + written + j * size).copyMemory(
                        from: source + (rowStart + j * innerStride) * size, byteCount: size)
                }
            }
            written += inner * size
            var k = rank - 2
            while k >= 0 {
                index[k] += 1
                rowStart += strides[k]
                if index[k] < shape[k] { break }
                rowStart -= strides[k] * shape[k]
                index[k] = 0
                k -= 1
            }
        }
    }
}
