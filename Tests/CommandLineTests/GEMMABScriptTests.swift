import Foundation
import TestSupport
import Testing

/// `scripts/gemm-ab`: two builds of MixKit's GEMM (or attention products) loaded into one process and called in
/// turn. Run here on two copies of the built library (two files, so the loader keeps both), with real dlopen and
/// real products.
@Suite struct GEMMABScriptTests {
    private let script = TestPaths.packageRoot.appendingPathComponent("scripts/gemm-ab").path

    /// Two folders, each with a copy of the built libMixKit.so.
    private func twoBuilds() throws -> (TemporaryFolder, String, String) {
        let folder = try TemporaryFolder("gemm-ab")
        let library = TestPaths.buildDirectory.appendingPathComponent("libMixKit.so")
        for name in ["before", "after"] {
            try FileManager.default.createDirectory(
                at: folder.fileURL(name), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: library, to: folder.fileURL("\(name)/libMixKit.so"))
        }
        return (folder, folder.file("before"), folder.file("after"))
    }

    private var cpuHasAVX2: Bool {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return flags.contains(" avx2 ") && flags.contains(" fma ")
    }

    /// The table of `products` compared on the avx2 path (two calls each, with `options`) between two copies of the
    /// built library, as its lines; nil, after checking the script's refusal, on a CPU without AVX2.
    private func avx2Table(_ products: [String], options: [String] = []) throws -> [Substring]? {
        let (_, before, after) = try twoBuilds()
        let run = try runProgram(script, [before, after, "--calls", "2", "--paths", "avx2"] + options + products)
        guard cpuHasAVX2 else {
            #expect(run.status == 1 && run.stderr.contains("lacks the avx2 path"), "\(run.stderr)")
            return nil
        }
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdout.split(separator: "\n")
    }

    /// Each row's five numbers (both builds' median and best GFLOP/s, their ratio) are there and positive.
    private func expectRates(_ rows: [Substring]) {
        for row in rows {
            let numbers = row.split(separator: "|").dropFirst(2).compactMap {
                Double($0.trimmingCharacters(in: .whitespaces))
            }
            #expect(numbers.count == 5 && numbers.allSatisfy { $0 > 0 }, "\(row)")
        }
    }

    @Test func comparesTwoCopiesOfTheBuiltLibraryProductByProduct() throws {
        guard let lines = try avx2Table(["0,0,130,64,40", "1,1,140,48,70"]) else { return }
        let rows = lines.filter { $0.hasPrefix("| 1") }
        #expect(rows.count == 2, "\(lines)")
        #expect(rows.first?.hasPrefix("| 130x64x40 | avx2 |") == true, "\(lines)")
        #expect(rows.last?.hasPrefix("| 140x48x70 Aᵀ Bᵀ | avx2 |") == true, "\(lines)")
        expectRates(rows)
    }

    @Test func comparesProductsWithTheirEpiloguesFromMemory() throws {
        let products = [
            "0,0,130,64,40,factor", "0,1,140,48,70,gelu-slope", "1,0,64,96,130,residual", "0,0,50,40,30,gelu",
        ]
        guard let lines = try avx2Table(products, options: ["--cold"]) else { return }
        let rows = lines.filter { $0.hasPrefix("| 1") || $0.hasPrefix("| 64") || $0.hasPrefix("| 50") }
        #expect(
            rows.map { $0.split(separator: "|").first.map(String.init) ?? "" }
                == [
                    " 130x64x40, factor ", " 140x48x70 Bᵀ, gelu-slope ", " 64x96x130 Aᵀ, residual ", " 50x40x30, gelu ",
                ],
            "\(lines)")
        expectRates(rows)
    }

    @Test func comparesAttentionProducts() throws {
        guard let lines = try avx2Table(["scores,49", "apply,13", "apply-t,40"]) else { return }
        let rows = lines.filter { $0.hasPrefix("| scores") || $0.hasPrefix("| apply") }
        #expect(
            rows.map { $0.split(separator: "|").first.map(String.init) ?? "" }
                == [
                    " scores q kᵀ, 49 tokens x64 heads ", " apply p v, 13 tokens x64 heads ",
                    " apply pᵀ v, 40 tokens x64 heads ",
                ],
            "\(lines)")
        expectRates(rows)
    }

    @Test func saysWhatIsWrongWithItsArguments() throws {
        let (folder, before, _) = try twoBuilds()
        let missing = try runProgram(script, [before, folder.file("nowhere")])
        #expect(missing.status == 2 && missing.stderr.contains("no \(folder.file("nowhere")); copy a build"))
        let same = try runProgram(script, [before, before, "--calls", "1", "--paths", "avx2", "0,0,8,8,8"])
        #expect(same.status == 1 && same.stderr.contains("loaded one library"), "\(same.stderr)")
        let shape = try runProgram(script, [before, folder.file("after"), "--calls", "1", "--paths", "avx2", "8x8x8"])
        #expect(shape.status != 0 && shape.stderr.contains("TA,TB,M,N,K"), "\(shape.stderr)")
        let epilogue = try runProgram(
            script, [before, folder.file("after"), "--calls", "1", "--paths", "avx2", "0,0,8,8,8,softplus"])
        #expect(epilogue.status == 2 && epilogue.stderr.contains(",gelu-slope"), "\(epilogue.stderr)")
        let attention = try runProgram(
            script, [before, folder.file("after"), "--calls", "1", "--paths", "avx2", "softmax,49"])
        #expect(attention.status == 2 && attention.stderr.contains("scores,LEN, apply,LEN or apply-t,LEN"))
        let long = try runProgram(
            script, [before, folder.file("after"), "--calls", "1", "--paths", "avx2", "apply,5000"])
        #expect(long.status == 2 && long.stderr.contains("1 to 1024 tokens"), "\(long.stderr)")
    }
}
