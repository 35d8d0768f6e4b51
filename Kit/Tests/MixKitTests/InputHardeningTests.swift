import Foundation
import MixKit
import Testing

/// Bad safetensors headers, non-regular files and impossible allocations:
/// each is a clear error naming the file (and tensor), never a crash.
@Suite struct InputHardeningTests {
    /// A safetensors file from a header (padded to 8 bytes) and `dataBytes` zero bytes of data.
    func file(_ header: String, dataBytes: Int, headerLength: UInt64? = nil) -> [UInt8] {
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        return PickleBuilder.le(headerLength ?? UInt64(h.count)) + h + [UInt8](repeating: 0, count: dataBytes)
    }

    func error(_ bytes: [UInt8]) -> String? {
        do {
            let file = try SafeTensorsFile(bytes: InputBytes(copying: bytes, path: "bad.safetensors"))
            for name in file.names { _ = try file.tensor(name) }
            return nil
        } catch {
            return String(describing: error)
        }
    }

    func expectError(_ bytes: [UInt8], _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        guard let message = error(bytes) else {
            Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
            return
        }
        #expect(message.hasPrefix("bad.safetensors: "), "\(message)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(message.contains(fragment), "\(message)", sourceLocation: sourceLocation)
        }
    }

    @Test func headersThatLieAboutSizesAreRefused() {
        // Shapes whose byte count overflows 64 bits (the -Ounchecked segfault of issue 11).
        expectError(
            file(#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#, dataBytes: 0),
            "tensor 'w'", "overflows 64-bit")
        expectError(
            file(#"{"w":{"dtype":"F32","shape":[2147483648,2147483648,4],"data_offsets":[0,16]}}"#, dataBytes: 16),
            "'w'", "overflows")
        expectError(
            file(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, dataBytes: 4), "negative dimension")
        // Offsets: past the file, reversed, wrong span, not integers, beyond Int64.
        expectError(
            file(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataBytes: 8), "'w'", "past its end")
        expectError(file(#"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#, dataBytes: 8), "0 <= begin <= end")
        expectError(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, dataBytes: 8), "needs 8 bytes")
        expectError(
            file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}}"#, dataBytes: 8), "bad header",
            "data_offsets")
        expectError(
            file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}"#, dataBytes: 8),
            "bad header")
        expectError(
            file(#"{"w":{"dtype":"F32","shape":"x","data_offsets":[0,4]}}"#, dataBytes: 4), "bad header", "shape")
        expectError(file(#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4), "bad header", "dtype")
        // Overlapping, out-of-order with a gap, and trailing data.
        expectError(
            file(
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                dataBytes: 12), "'b'", "overlaps tensor 'a'")
        expectError(
            file(
                #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                dataBytes: 12), "bytes 4..<8", "belong to no tensor")
        expectError(
            file(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 8),
            "longer than its header says")
        // Header length beyond the file, or absurdly large; not JSON; metadata that is not strings.
        expectError(file(#"{}"#, dataBytes: 0, headerLength: 1 << 62), "bad header", "claims")
        expectError(file(#"{}"#, dataBytes: 0, headerLength: UInt64.max), "bad header")
        expectError(file("[1]", dataBytes: 0), "does not start with '{'")
        expectError(file(#"{"w":"#, dataBytes: 0), "bad header")
        expectError(file(#"{"__metadata__":{"step":1}}"#, dataBytes: 0), "bad header", "__metadata__")
        // Sane files still open, zero-size tensors included, in any order of the header.
        #expect(
            error(
                file(
                    #"{"b":{"dtype":"I64","shape":[1],"data_offsets":[4,12]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                    dataBytes: 12)) == nil)
        #expect(error(file(#"{}"#, dataBytes: 0)) == nil)
    }

    @Test func everyDtypeRoundTrips() throws {
        let path = try temporaryDirectory("dtypes").appendingPathComponent("all.safetensors").path
        var values: [String: SafeTensorsValue] = [:]
        for dtype in SafeTensorsDType.allCases {
            let bytes = (0..<(3 * dtype.byteSize)).map { UInt8(($0 * 37 + 11) % 251) }
            values[dtype.rawValue] = .raw(try RawTensor(dtype: dtype, shape: [3], bytes: bytes))
        }
        try SafeTensors.write(values, to: path)
        let file = try SafeTensorsFile(path: path)
        for dtype in SafeTensorsDType.allCases {
            guard case .raw(let written) = values[dtype.rawValue] else { continue }
            #expect(try file.raw(dtype.rawValue) == written)
            #expect(file.entries[dtype.rawValue]?.dtype == dtype)
        }
        let index = try RawTensor(int64: [0, -1, 1 << 40], shape: [3])
        #expect(index.integers() == [0, -1, 1 << 40])
        #expect(try index.float32().scalars == [0, -1, Float(1 << 40)])
        let flags = try RawTensor(dtype: .bool, shape: [2], bytes: [0, 1])
        #expect(try flags.float32().scalars == [0, 1])
        #expect(throws: RawTensor.SizeError.self) { try RawTensor(dtype: .f32, shape: [2], bytes: [0, 0, 0]) }
    }

    @Test func nonRegularFilesAreRefusedAtOnce() throws {
        let dir = try temporaryDirectory("inputs")
        let fifo = dir.appendingPathComponent("recipe.yaml").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Date()
        for (path, kind) in [
            ("/dev/zero", "a character device"), (fifo, "a FIFO (named pipe)"), (dir.path, "a folder"),
        ] {
            #expect(
                throws: InputFileError(
                    path: path, problem: "is \(kind), not a regular file: give the path of the recipe")
            ) {
                try RegularFile.read(path, maxBytes: 1 << 20, what: "recipe")
            }
            do {
                _ = try SafeTensorsFile(path: path)
                Issue.record("opened \(path)")
            } catch let error as SafeTensorsError {
                #expect(
                    error.description
                        == "\(path): is \(kind), not a regular file: give the path of the safetensors file")
            }
        }
        #expect(Date().timeIntervalSince(started) < 5)
        let small = dir.appendingPathComponent("small.json").path
        try Data("{\"a\": 1}".utf8).write(to: URL(fileURLWithPath: small))
        #expect(try RegularFile.read(small, maxBytes: 100) == Data("{\"a\": 1}".utf8))
        #expect(try RegularFile.map(small).count == 8)
        #expect(throws: InputFileError.self) { try RegularFile.read(small, maxBytes: 4, what: "COCO JSON") }
        do {
            _ = try RegularFile.read(small, maxBytes: 4, what: "COCO JSON")
        } catch let error as InputFileError {
            #expect(error.problem == "is 8 bytes, more than the 4 bytes a COCO JSON may have")
        }
        #expect(throws: InputFileError.self) { try RegularFile.read(dir.path + "/missing", maxBytes: 4) }
        // Files the kernel reports as empty are still read whole.
        #expect(try RegularFile.read("/proc/self/status", maxBytes: 1 << 20).count > 0)
    }

    @Test func impossibleAllocationsSayHowMuchTheyNeed() throws {
        do {
            _ = try Tensor.allocate(shape: [1 << 45])  // 128 TiB
            Issue.record("allocated 128 TiB")
        } catch let error as TensorAllocationError {
            #expect(error.bytes == 1 << 47)
            #expect(error.description.contains("[35184372088832]"))
            #expect(error.description.contains("128.0 TiB (140737488355328 bytes)"))
            #expect(error.description.contains("available"))
        }
        do {
            _ = try Tensor.allocate(shape: [1 << 40, 1 << 40])
            Issue.record("allocated an overflowing shape")
        } catch let error as TensorAllocationError {
            #expect(error.bytes == nil)
            #expect(error.description.contains("more than"))
        }
        #expect(throws: TensorAllocationError.self) { try Tensor.allocate(shape: [-1]) }
        let t = try Tensor.allocate(shape: [2, 3])
        #expect(t.shape == [2, 3])
        #expect(t.count == 6)
        #expect(CheckedSize.elementCount([Int.max, 2]) == nil)
        #expect(CheckedSize.elementCount([Int.max, 0]) == 0)
        #expect(CheckedSize.byteCount([1 << 61], elementSize: 8) == nil)
        #expect(!CheckedSize.rangeFits(offset: Int.max, length: 1, in: Int.max))
    }
}
