import Foundation
import MixKit
import Testing

@Suite struct SafeTensorsTests {
    @Test func roundTripAllWrittenTypes() throws {
        let dir = try temporaryDirectory().path
        let path = dir + "/t.safetensors"
        let w = randn([3, 4], seed: 1)
        try SafeTensors.write(
            [
                "w": .float32(w), "labels": .int64([1, -2, 3], shape: [3]), "idx": .int32([7, 8], shape: [2, 1]),
                "bytes": .uint8([0, 255], shape: [2]), "scalar": .float32(Tensor(scalar: 2.5)),
            ], metadata: ["step": "12"], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.names == ["bytes", "idx", "labels", "scalar", "w"])
        #expect(try file.tensor("w").scalars == w.scalars)
        #expect(try file.tensor("w").shape == [3, 4])
        #expect(try file.integers("labels") == [1, -2, 3])
        #expect(try file.integers("idx") == [7, 8])
        #expect(file.entries["idx"]?.shape == [2, 1])
        #expect(try file.integers("bytes") == [0, 255])
        #expect(try file.tensor("scalar").item() == 2.5)
        #expect(file.metadata["step"] == "12")
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
    }

    @Test func readsHalfPrecisionIntoFloat() throws {
        let path = try temporaryDirectory().path + "/half.safetensors"
        // Hand-built file: F16 [1.0, -2.5] and BF16 [3.0].
        let header =
            #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}"#
        var bytes = Data()
        var h = Array(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var n = UInt64(h.count).littleEndian
        withUnsafeBytes(of: &n) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: h)
        for v in [Float16(1.0).bitPattern, Float16(-2.5).bitPattern, UInt16(Float(3).bitPattern >> 16)] {
            var le = v.littleEndian
            withUnsafeBytes(of: &le) { bytes.append(contentsOf: $0) }
        }
        try bytes.write(to: URL(fileURLWithPath: path))
        let file = try SafeTensorsFile(path: path)
        #expect(try file.tensor("a").scalars == [1, -2.5])
        #expect(try file.tensor("b").scalars == [3])
        // F64 (as torch writes float64 parameters), converted to float32.
        let doubleHeader = #"{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#
        var doubles = Data()
        var length = UInt64(doubleHeader.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { doubles.append(contentsOf: $0) }
        doubles.append(contentsOf: Array(doubleHeader.utf8))
        for v in [0.1, -3e40] {
            var le = v.bitPattern.littleEndian
            withUnsafeBytes(of: &le) { doubles.append(contentsOf: $0) }
        }
        try doubles.write(to: URL(fileURLWithPath: path + ".f64"))
        #expect(try SafeTensorsFile(path: path + ".f64").tensor("d").scalars == [Float(0.1), -Float.infinity])
    }

    @Test func corruptFilesGiveErrorsThatNameTheFile() throws {
        let dir = try temporaryDirectory().path
        let good = dir + "/good.safetensors"
        try SafeTensors.write(["w": randn([16, 16], seed: 2)], to: good)
        let data = try Data(contentsOf: URL(fileURLWithPath: good))
        func expectError(_ bytes: Data, _ fragment: String) {
            let path = dir + "/bad-\(UUID().uuidString).safetensors"
            try! bytes.write(to: URL(fileURLWithPath: path))
            do {
                _ = try SafeTensorsFile(path: path)
                Issue.record("expected an error containing '\(fragment)'")
            } catch let e as SafeTensorsError {
                #expect(e.description.hasPrefix(path))
                #expect(e.description.contains(fragment), "\(e.description)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        expectError(data.prefix(5), "truncated")
        expectError(data.prefix(data.count - 10), "past its end")
        var badLength = data
        badLength[0] = 0xFF
        badLength[1] = 0xFF
        expectError(badLength, "bad header")
        var badJSON = data
        badJSON[8] = UInt8(ascii: "[")
        expectError(badJSON, "bad header")
        let header = #"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#
        var c64 = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { c64.append(contentsOf: $0) }
        c64.append(contentsOf: Array(header.utf8))
        c64.append(Data(count: 8))
        expectError(c64, "dtype C64")
        do {
            _ = try SafeTensorsFile(path: dir + "/missing.safetensors")
            Issue.record("expected an error")
        } catch let e as SafeTensorsError {
            #expect(e.description.contains("cannot open"))
        }
    }

    @Test func readsReferenceWeightsByNameAndShape() throws {
        let path = SharedInputs.path + "/fixtures/parity/pretrain_small/weights.safetensors"
        let file = try SafeTensorsFile(path: path)
        #expect(file.entries.count == 101)
        #expect(file.entries["patch_embed.proj.weight"]?.shape == [16, 3, 4, 4])
        #expect(file.entries["layers.3.blocks.0.attn.relative_position_bias_table"]?.shape == [9, 4])
        let pe = try file.tensor("absolute_pos_embed")
        #expect(pe.shape == [1, 256, 16])
        // It is the fixed sin-cos table.
        #expect(maxAbsDiff(pe, sinCosPositionEmbedding(dim: 16, gridSize: 16)) < 1e-6)
        let batch = try SafeTensorsFile(
            path: SharedInputs.path + "/fixtures/parity/finetune_small/batch.safetensors")
        #expect(try batch.integers("labels").count == 4)
    }
}
