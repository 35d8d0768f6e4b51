import ArgumentParser
import Foundation
import MixKit
import MixmaeSupport

/// `mixmae bench ops`: the machine's multiply-add peak, GFLOP/s of `matmul` at the models' GEMM shapes next to
/// raw `cblas_sgemm` (and as a share of that peak), fc1's GEMM warm, cold and with its GELU epilogue, window
/// attention forward and backward, and the time and bandwidth of layer norm, softmax and GELU.
///
/// ```
/// mixmae bench ops
/// mixmae bench ops --format json > ops.json
/// ```
struct BenchOpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "Time matmul against raw cblas_sgemm and the machine's FMA peak, and the memory-bound kernels.",
        discussion: """
            The FMA peak is chains of fused multiply-adds with nothing else in the loop, on the active \
            kernel path, on one thread and on all compute threads at once; 'of peak' is matmul's share \
            of the all-threads peak. matmul runs as MixKit runs it in training (OpenBLAS \
            single-threaded, MixKit splitting large GEMMs and batches over MIXMAE_THREADS \
            threads); cblas_sgemm is called directly \
            with OpenBLAS on the same number of threads, one call per batch item. Kernel bandwidth \
            counts the bytes each kernel must read and write (forward: x and y; backward: the \
            saved tensor, dy and dx); 'scale' is a plain read-and-write pass for reference. The step \
            table times a linear's forward GEMM as a training step runs it: warm (operands in cache), with \
            GELU and its slope written as each block completes (an MLP's fc1), and cold (every cache \
            written over first, as a step meets a layer's weights after the optimizer); 'backward' is \
            the layer's input and weight gradients computed at the same time, warm and cold. The \
            attention table runs the attention op on the models' window shapes (forward keeping the \
            probabilities, as training does; backward is the op's own kernel); its GFLOP/s count the \
            per-head products only, so softmax and the rest lower them. \
            Other processes on the machine lower every number: check the load first.
            """
    )

    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "Timed repetitions per measurement (the best one is kept).")
    var repetitions = 5

    @Option(name: .long, help: "Rows of the [rows, 256] tensor for the kernels.")
    var rows = 65536

    @Flag(name: .long, help: "Measure and print only the FMA peak (what scripts/bench-vs-pytorch divides by).")
    var peakOnly = false

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1, got \(rows)") }
    }

    func run() throws {
        let load = MachineLoad.oneMinuteAverage()
        let peak = OpsBenchmark.fmaPeak(repetitions: repetitions)
        if peakOnly {
            try printPeak(peak)
            return
        }
        if !output.json {
            print("compute threads: \(Parallel.summary), 1-minute load average: \(MachineLoad.describe(load))")
            print("C kernels: \(CPUFeatures.summary)")
            print("BLAS: \(CPUFeatures.blasSummary)")
            print("GEMM: \(GEMMKernels.summary) (matmul below; sgemm is OpenBLAS's cblas_sgemm on its own threads)")
            print(peakLine(peak))
        }
        let gemms = measuredTable(
            OpsBenchmark.standardShapes, title: nil,
            header: ["GEMM", "batch", "M x N x K", "matmul GFLOP/s", "of peak", "sgemm GFLOP/s", "ratio"],
            widths: [26, 6, 20, 16, 9, 15, 7], measure: { OpsBenchmark.gemm($0, repetitions: repetitions) }
        ) { shape, r in
            [
                shape.name, "\(shape.batch)", "\(shape.m) x \(shape.n) x \(shape.k)",
                String(format: "%.1f", r.matmulGFLOPS),
                String(format: "%.0f%%", 100 * r.matmulGFLOPS / peak.allThreadsGFLOPS),
                String(format: "%.1f", r.sgemmGFLOPS), String(format: "%.2f", r.matmulGFLOPS / r.sgemmGFLOPS),
            ]
        }
        let perThreadPeak = peak.allThreadsGFLOPS / Double(peak.threads)
        let shared = measuredTable(
            OpsBenchmark.sharedCoresShapes,
            title:
                "GEMM per thread, on one thread alone and on \(Parallel.threadCount) at once (a share of the rows each):",
            header: ["GEMM", "M x N x K (share)", "alone", "of peak", "at once", "of peak", "loss"],
            widths: [26, 20, 8, 9, 9, 9, 7], measure: { OpsBenchmark.sharedCores($0, repetitions: repetitions) }
        ) { shape, r in
            let alone = [
                String(format: "%.1f", r.aloneGFLOPS),
                String(format: "%.0f%%", 100 * r.aloneGFLOPS / peak.oneThreadGFLOPS),
            ]
            let together = r.togetherGFLOPS.map { rate in
                [
                    String(format: "%.1f", rate), String(format: "%.0f%%", 100 * rate / perThreadPeak),
                    String(format: "%.0f%%", 100 * (1 - rate / r.aloneGFLOPS)),
                ]
            }
            return [shape.name, "\(r.rowsPerThread) x \(shape.n) x \(shape.k)"] + alone
                + (together ?? ["-", "-", "(never at once)"])
        }
        let stepGEMMs = measuredTable(
            OpsBenchmark.stepShapes,
            title: "GEMM as a training step meets it (a linear's x Wᵀ + bias; GFLOP/s of the best single call):",
            header: ["GEMM", "M x N x K", "warm", "+ GELU", "cold", "cold + GELU", "backward", "cold"],
            widths: [26, 20, 8, 8, 8, 13, 10, 8], measure: { OpsBenchmark.stepGEMM($0, repetitions: repetitions) }
        ) { shape, r in
            let rates = [
                r.warmGFLOPS, r.geluGFLOPS, r.coldGFLOPS, r.coldGELUGFLOPS, r.backwardWarmGFLOPS, r.backwardColdGFLOPS,
            ].map { String(format: "%.1f", $0) }
            return [shape.name, "\(shape.m) x \(shape.n) x \(shape.k)"] + rates
        }
        let attentions = measuredTable(
            OpsBenchmark.attentionShapes,
            title: "attention (window attention with a relative position bias; GFLOP/s of its products):",
            header: ["windows", "G x N x heads", "forward ms", "GFLOP/s", "backward ms", "GFLOP/s"],
            widths: [28, 22, 12, 10, 13, 10], measure: { OpsBenchmark.attention($0, repetitions: repetitions) }
        ) { shape, r in
            [
                shape.name, "\(shape.windows) x \(shape.tokens) x \(shape.heads)",
                String(format: "%.2f", r.forwardSeconds * 1e3), String(format: "%.1f", r.forwardGFLOPS),
                String(format: "%.2f", r.backwardSeconds * 1e3), String(format: "%.1f", r.backwardGFLOPS),
            ]
        }
        let kernels = OpsBenchmark.kernels(rows: rows, cols: 256, repetitions: repetitions)
        if output.json {
            let object: [String: Any] = [
                "threads": Parallel.threadCount, "kernel_path": CPUFeatures.kernelPath.rawValue,
                "blas_kernels": CPUFeatures.blasKernels, "gemm_kernels": GEMMKernels.active.rawValue,
                "pool_spin_us": Parallel.spinMicroseconds,
                "load_average": load ?? -1,
                "fma_peak": peakObject(peak),
                "gemm": gemms.map { r in
                    [
                        "name": r.shape.name, "batch": r.shape.batch, "m": r.shape.m, "n": r.shape.n,
                        "k": r.shape.k, "transpose_b": r.shape.transposeB, "shared_b": r.shape.sharedB,
                        "matmul_gflops": r.matmulGFLOPS, "sgemm_gflops": r.sgemmGFLOPS,
                        "matmul_share_of_peak": r.matmulGFLOPS / peak.allThreadsGFLOPS,
                    ] as [String: Any]
                },
                "shared_cores": shared.map { r in
                    [
                        "name": r.shape.name, "m": r.shape.m, "n": r.shape.n, "k": r.shape.k,
                        "threads": r.threads, "rows_per_thread": r.rowsPerThread, "alone_gflops": r.aloneGFLOPS,
                        "together_gflops": r.togetherGFLOPS.map { $0 as Any } ?? NSNull(),
                    ] as [String: Any]
                },
                "step_gemm": stepGEMMs.map { r in
                    [
                        "name": r.shape.name, "m": r.shape.m, "n": r.shape.n, "k": r.shape.k,
                        "warm_gflops": r.warmGFLOPS, "gelu_gflops": r.geluGFLOPS, "cold_gflops": r.coldGFLOPS,
                        "cold_gelu_gflops": r.coldGELUGFLOPS, "backward_warm_gflops": r.backwardWarmGFLOPS,
                        "backward_cold_gflops": r.backwardColdGFLOPS,
                    ] as [String: Any]
                },
                "attention": attentions.map { r in
                    [
                        "name": r.shape.name, "windows": r.shape.windows, "tokens": r.shape.tokens,
                        "heads": r.shape.heads, "forward_ms": r.forwardSeconds * 1e3, "forward_gflops": r.forwardGFLOPS,
                        "backward_ms": r.backwardSeconds * 1e3, "backward_gflops": r.backwardGFLOPS,
                    ] as [String: Any]
                },
                "kernels": kernels.map { k in
                    [
                        "name": k.name, "elements": k.elements, "forward_ms": k.forwardSeconds * 1e3,
                        "forward_gbps": k.forwardGBps, "backward_ms": k.backwardSeconds * 1e3,
                        "backward_gbps": k.backwardGBps,
                    ] as [String: Any]
                },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("")
        print(
            "kernels over a [\(rows), 256] float tensor (\(String(format: "%.0f", Double(rows * 256 * 4) / 1e6)) MB):")
        let kernelWidths = [14, 12, 8, 13, 8]
        print(line(["kernel", "forward ms", "GB/s", "backward ms", "GB/s"], widths: kernelWidths))
        for k in kernels {
            let cells = [
                k.name, String(format: "%.2f", k.forwardSeconds * 1e3), String(format: "%.1f", k.forwardGBps),
                String(format: "%.2f", k.backwardSeconds * 1e3), String(format: "%.1f", k.backwardGBps),
            ]
            print(line(cells, widths: kernelWidths))
        }
    }

    /// Measures each of `shapes` in turn; as a table (not with --format json) prints a blank line, `title` (when
    /// given), `header` and then each result's `cells` as soon as it is measured (a row at a time on long runs).
    private func measuredTable<Shape, Result>(
        _ shapes: [Shape], title: String?, header: [String], widths: [Int], measure: (Shape) -> Result,
        cells: (Shape, Result) -> [String]
    ) -> [Result] {
        if !output.json {
            print("")
            if let title { print(title) }
            print(line(header, widths: widths))
        }
        return shapes.map { shape in
            let result = measure(shape)
            if !output.json { print(line(cells(shape, result), widths: widths)) }
            return result
        }
    }

    /// The FMA peak alone: one line, or with --format json the `fma_peak` object and the kernel path it ran.
    private func printPeak(_ peak: OpsBenchmark.FMAPeak) throws {
        guard output.json else { return print(peakLine(peak)) }
        let object: [String: Any] = [
            "threads": Parallel.threadCount, "kernel_path": CPUFeatures.kernelPath.rawValue,
            "fma_peak": peakObject(peak),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func peakObject(_ peak: OpsBenchmark.FMAPeak) -> [String: Any] {
        [
            "one_thread_gflops": peak.oneThreadGFLOPS, "all_threads_gflops": peak.allThreadsGFLOPS,
            "threads": peak.threads,
        ]
    }

    private func peakLine(_ peak: OpsBenchmark.FMAPeak) -> String {
        let rates = String(format: "%.1f GFLOP/s on one thread, %.1f", peak.oneThreadGFLOPS, peak.allThreadsGFLOPS)
        return "FMA peak (\(CPUFeatures.kernelPath.rawValue)): \(rates) on \(peak.threads) threads at once"
    }

    /// `cells` padded to `widths`, the first on the right (left-aligned), the others on the left.
    private func line(_ cells: [String], widths: [Int]) -> String {
        zip(cells, widths).enumerated().map { index, cell in pad(cell.0, cell.1, right: index > 0) }.joined()
    }

    private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
}
