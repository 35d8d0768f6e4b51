import Foundation
import MixKit
import Testing

/// The binary that holds the kernels must run on any x86-64 CPU: AVX and
/// AVX-512 instructions may appear only in the functions compiled from
/// kernels_avx2.c and kernels_avx512.c, which run only after the CPU check.
/// Reads the loaded library (or test binary) with binutils' readelf and objdump.
@Suite struct CPUInstructionSetTests {
    @Test(.enabled(if: isX86, "the AVX paths exist only on x86"))
    func avxInstructionsOnlyInTheDispatchedPaths() throws {
        let binary = try #require(try binaryHoldingTheKernels(), "no loaded file has the kernels' symbols")
        let counts = try wideInstructionsBySourceFile(in: binary)
        let outside = counts.filter { $0.key != "kernels_avx2.c" && $0.key != "kernels_avx512.c" }
        #expect(outside.isEmpty, "AVX instructions outside the dispatched paths in \(binary): \(outside)")
        #expect((counts["kernels_avx2.c"]?.avx ?? 0) > 0, "no AVX2 code in \(binary): \(counts)")
        #expect(counts["kernels_avx2.c"]?.avx512 == 0, "AVX-512 code in the AVX2 path: \(counts)")
        #expect((counts["kernels_avx512.c"]?.avx512 ?? 0) > 0, "no AVX-512 code in \(binary): \(counts)")
    }
}

private var isX86: Bool {
    #if arch(x86_64) || arch(i386)
        true
    #else
        false
    #endif
}

/// The file the kernels were loaded from: libMixKit.so when this process
/// mapped it (the root package), else this executable (Kit's own tests link
/// the SDK statically); the one whose symbol table names dispatch.c.
private func binaryHoldingTheKernels() throws -> String? {
    // Read to the end: /proc files report a size of 0.
    let maps = String(
        decoding: FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
    let libraries = maps.split(separator: "\n").compactMap { line -> String? in
        // "7f12a0000000-7f12a0200000 r-xp 00000000 08:01 1234 /path/libMixKit.so"
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        return fields.count >= 6 && fields[5].hasSuffix("/libMixKit.so") ? String(fields[5]) : nil
    }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
    for candidate in Set(libraries).sorted() + [executable]
    where try run("/usr/bin/readelf", ["-sW", candidate]).contains(" dispatch.c\n") {
        return candidate
    }
    return nil
}

/// Instructions that need AVX (VEX or EVEX encoded, `v...`) and those that need
/// AVX-512 (512-bit or mask registers), per source file of the function holding them.
private struct WideInstructions: CustomStringConvertible {
    var avx = 0
    var avx512 = 0
    var description: String { "\(avx) AVX (\(avx512) AVX-512)" }
}

private func wideInstructionsBySourceFile(in binary: String) throws -> [String: WideInstructions] {
    let functions = try functionSymbols(in: binary)
    var counts: [String: WideInstructions] = [:]
    for line in try run("/usr/bin/objdump", ["-d", "--no-show-raw-insn", "-w", binary]).split(separator: "\n") {
        // "  1a2b3c:\tvfmadd231ps %ymm1,%ymm2,%ymm0"
        let parts = line.split(separator: "\t", maxSplits: 1)
        guard parts.count == 2, parts[0].hasSuffix(":"),
            let address = UInt64(parts[0].dropLast().trimmingCharacters(in: .whitespaces), radix: 16)
        else { continue }
        let mnemonic = parts[1].prefix { $0 != " " }
        let isAVX512 = parts[1].contains("%zmm") || parts[1].contains("%k") || mnemonic.hasPrefix("k")
        let isAVX = isAVX512 || parts[1].contains("%ymm") || (mnemonic.hasPrefix("v") && !mnemonic.hasPrefix("ver"))
        guard isAVX else { continue }
        let file = sourceFile(of: address, functions) ?? "(no symbol)"
        counts[file, default: WideInstructions()].avx += 1
        if isAVX512 { counts[file, default: WideInstructions()].avx512 += 1 }
    }
    return counts
}

/// The source file of the function (sorted by start) whose code holds `address`.
private func sourceFile(of address: UInt64, _ functions: [(start: UInt64, size: UInt64, file: String)]) -> String? {
    var (low, high) = (0, functions.count)  // the first function starting after `address`
    while low < high {
        let mid = (low + high) / 2
        if functions[mid].start <= address { low = mid + 1 } else { high = mid }
    }
    guard low > 0, address < functions[low - 1].start + functions[low - 1].size else { return nil }
    return functions[low - 1].file
}

/// Function symbols of the static symbol table, by address, with the source
/// file of local ones (the FILE symbol before them) or "(global)".
private func functionSymbols(in binary: String) throws -> [(start: UInt64, size: UInt64, file: String)] {
    var result: [(start: UInt64, size: UInt64, file: String)] = []
    var inStaticTable = false
    var file = "(unknown)"
    for line in try run("/usr/bin/readelf", ["-sW", binary]).split(separator: "\n") {
        if line.hasPrefix("Symbol table") {
            inStaticTable = line.contains("'.symtab'")
            continue
        }
        // "   37: 0000000000000000     0 FILE    LOCAL  DEFAULT  ABS kernels_avx2.c"
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard inStaticTable, fields.count >= 8, fields[0].hasSuffix(":") else { continue }
        if fields[3] == "FILE" {
            file = String(fields[7])
        } else if fields[3] == "FUNC", let start = UInt64(fields[1], radix: 16), start != 0,
            let size = UInt64(fields[2].hasPrefix("0x") ? fields[2].dropFirst(2) : fields[2][...], radix: 10)
        {
            result.append((start, size, fields[4] == "LOCAL" ? file : "(global)"))
        }
    }
    return result.sorted { $0.start < $1.start }
}

private func run(_ tool: String, _ arguments: [String]) throws -> String {
    guard FileManager.default.isExecutableFile(atPath: tool) else {
        Issue.record("\(tool) is missing: install binutils to check the instruction sets")
        return ""
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
