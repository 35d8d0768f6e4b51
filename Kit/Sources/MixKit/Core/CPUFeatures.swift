import CKernels
import Foundation

/// Which instruction set MixKit's C kernels run on, and what this CPU supports.
///
/// Every kernel (element-wise ops, softmax, layer norm, GELU, AdamW, the
/// dense-prediction kernels) is built three times: a portable build that runs
/// on any x86-64 CPU (SSE2) or other architecture, one for AVX2 with FMA and
/// one for AVX-512. When the SDK loads it takes the fastest path this CPU
/// supports, unless the environment variable `MIXMAE_CPU` (`portable`,
/// `avx2`, `avx512` or `auto`) names one; a path the CPU lacks, or an unknown
/// name, stops the process at load with a message saying what to set instead.
/// `MIXMAE_CPU_HIDE=avx512f` (feature names) makes the choice act as if the
/// CPU lacked them, to see what a machine without AVX-512 would run.
/// The paths agree to float rounding (sums may add in another order).
///
/// ```swift
/// print(CPUFeatures.summary)  // "avx512 (CPU runs avx512, avx2, portable)"
/// try CPUFeatures.use(.portable)  // every later kernel call, on every thread
/// ```
public enum CPUFeatures {
    /// One build of the kernels.
    public enum KernelPath: String, CaseIterable, Sendable, CustomStringConvertible {
        /// The compiler's baseline instruction set: SSE2 on x86-64, or any other CPU.
        case portable
        /// AVX2 with FMA (256-bit vectors).
        case avx2
        /// AVX-512 F, BW, VL and DQ (512-bit vectors).
        case avx512

        /// The name `MIXMAE_CPU` takes.
        public var description: String { rawValue }

        /// True when this CPU (and the OS) can run the path.
        public var isSupported: Bool { mk_cpu_path_supported(code) != 0 }

        /// The CPU features the path needs that this CPU lacks (empty when supported).
        public var missingFeatures: [String] {
            String(cString: mk_cpu_missing_features(code)).split(separator: " ").map(String.init)
        }

        var code: Int32 {
            switch self {
            case .portable: Int32(MK_PATH_PORTABLE)
            case .avx2: Int32(MK_PATH_AVX2)
            case .avx512: Int32(MK_PATH_AVX512)
            }
        }

        init?(code: Int32) {
            guard let found = Self.allCases.first(where: { $0.code == code }) else { return nil }
            self = found
        }
    }

    /// A request for a kernel path this CPU cannot run.
    public struct UnsupportedPathError: Error, CustomStringConvertible {
        /// The path asked for.
        public var path: KernelPath
        /// What the CPU lacks for it.
        public var missingFeatures: [String]

        public var description: String {
            "the \(path) kernels need \(missingFeatures.joined(separator: ", ")), which this CPU lacks; "
                + "it runs \(CPUFeatures.supportedPaths.map(\.rawValue).joined(separator: ", "))"
        }
    }

    /// The environment variable that forces a path.
    public static let environmentVariable = "MIXMAE_CPU"

    /// The path the kernels run on now.
    public static var kernelPath: KernelPath { KernelPath(code: mk_cpu_path()) ?? .portable }

    /// The fastest path this CPU supports: the one taken when `MIXMAE_CPU` is unset.
    public static var bestPath: KernelPath { KernelPath(code: mk_cpu_best_path()) ?? .portable }

    /// The paths this CPU runs, fastest first.
    public static var supportedPaths: [KernelPath] { KernelPath.allCases.reversed().filter(\.isSupported) }

    /// The instruction-set extensions this CPU reports, among those the paths use
    /// (for example `["sse2", "sse4.2", "avx", "avx2", "fma", "avx512f", ...]`).
    public static var instructionSets: [String] {
        String(cString: mk_cpu_feature_list()).split(separator: " ").map(String.init)
    }

    /// One line for `--version` and benchmark headers, such as
    /// `"avx512 (CPU runs avx512, avx2, portable)"`, noting a path forced by `MIXMAE_CPU`.
    public static var summary: String {
        let runs = supportedPaths.map(\.rawValue).joined(separator: ", ")
        var text = "\(kernelPath) (CPU runs \(runs))"
        if let forced = ProcessInfo.processInfo.environment[environmentVariable], !forced.isEmpty, forced != "auto" {
            text += ", \(environmentVariable)=\(forced)"
        }
        return text
    }

    /// The OpenBLAS kernels the GEMMs run on (`"SkylakeX"`, `"Haswell"`, `"Prescott"`, ...), or an
    /// empty string when the BLAS is not an OpenBLAS built with `DYNAMIC_ARCH`.
    ///
    /// When MixKit loads it matches them to its own kernel path (an OpenBLAS older than the CPU falls
    /// back to SSE3 kernels, several times slower): SkylakeX for `avx512`, Haswell for `avx2`. The
    /// `portable` path keeps OpenBLAS's choice, and `OPENBLAS_CORETYPE` set at start always wins.
    ///
    /// ```swift
    /// print(CPUFeatures.blasKernels)  // "SkylakeX"
    /// ```
    public static var blasKernels: String { String(cString: mk_blas_core()) }

    /// What MixKit did about the BLAS kernels at load, such as `"OpenBLAS chose Prescott for this CPU;
    /// switched to SkylakeX to match the avx512 kernels"`; empty when OpenBLAS's own choice was kept.
    public static var blasNote: String { String(cString: mk_blas_core_note()) }

    /// One line for `--version` and benchmark headers, such as `"OpenBLAS SkylakeX"`, with
    /// ``blasNote`` in parentheses when there is one.
    public static var blasSummary: String {
        let kernels = blasKernels
        guard !kernels.isEmpty else { return "not OpenBLAS (kernels unknown)" }
        let note = blasNote
        return note.isEmpty ? "OpenBLAS \(kernels)" : "OpenBLAS \(kernels) (\(note))"
    }

    /// Switches every later kernel call, on every thread, to `path`.
    ///
    /// ```swift
    /// try CPUFeatures.use(.portable)
    /// ```
    public static func use(_ path: KernelPath) throws {
        guard mk_cpu_select(path.code) == 0 else {
            throw UnsupportedPathError(path: path, missingFeatures: path.missingFeatures)
        }
    }

    /// Runs `body` with the kernel calls of the calling thread on `path`, then
    /// returns the thread to the process-wide path. Work that an op hands to
    /// MixKit's other threads runs on their path, so this is for kernels called
    /// on one thread (tests comparing paths); ``use(_:)`` switches every thread.
    ///
    /// ```swift
    /// let y = try CPUFeatures.withThreadKernelPath(.portable) { callKernels() }
    /// ```
    public static func withThreadKernelPath<T>(_ path: KernelPath, _ body: () throws -> T) throws -> T {
        guard mk_cpu_select_thread(path.code) == 0 else {
            throw UnsupportedPathError(path: path, missingFeatures: path.missingFeatures)
        }
        defer { mk_cpu_select_thread(-1) }
        return try body()
    }

    /// The names of the dispatched C kernels (`mk_binary`, `mk_gelu`, ...).
    public static var kernelNames: [String] {
        (0..<mk_kernel_count()).map { String(cString: mk_kernel_name($0)) }
    }
}
