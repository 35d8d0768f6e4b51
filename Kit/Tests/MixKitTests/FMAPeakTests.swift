import CKernels
import MixKit
import Testing

/// The multiply-add peak `mixmae bench ops` reports: the kernel must run and count exactly the multiply-adds of
/// its path's vectors, and the benchmark must turn them into rates; and the rates of its step table.
@Suite struct FMAPeakTests {
    /// Floats per chain on each path: one AVX-512 or AVX2 vector, four floats on the portable path.
    private func lanes(_ path: CPUFeatures.KernelPath) -> Double {
        switch path {
        case .avx512: 16
        case .avx2: 8
        case .portable: 4
        }
    }

    @Test func countsTheMultiplyAddsOfEveryPath() throws {
        for path in CPUFeatures.supportedPaths {
            let (flops, sum) = try CPUFeatures.withThreadKernelPath(path) {
                var sum: Float = 0
                let flops = mk_fma_peak(1000, 1, 1, &sum)
                return (flops, sum)
            }
            #expect(flops == 2 * 12 * lanes(path) * 1000, "\(path)")
            // Every lane of the 12 chains counts 1000 additions of 1 from 0.
            #expect(Double(sum) == flops / 2, "\(path): the lanes add up to \(sum)")
        }
    }

    /// `mixmae bench ops`'s step table: a linear's GEMM warm, cold and with fc1's GELU epilogue, on every path
    /// (the portable one multiplies with OpenBLAS and applies the epilogue after).
    @Test func timesALinearsGEMMAsAStepMeetsIt() throws {
        let shape = OpsBenchmark.GEMMShape(name: "test fc1", m: 600, n: 96, k: 32, transposeB: true)
        for path in CPUFeatures.supportedPaths {
            let r = try CPUFeatures.withThreadKernelPath(path) { OpsBenchmark.stepGEMM(shape, repetitions: 1) }
            #expect(r.shape.name == "test fc1")
            let rates = [
                r.warmGFLOPS, r.geluGFLOPS, r.coldGFLOPS, r.coldGELUGFLOPS, r.backwardWarmGFLOPS, r.backwardColdGFLOPS,
            ]
            for rate in rates {
                #expect(rate.isFinite && rate > 0, "\(path): \(r)")
            }
        }
    }

    /// `mixmae bench ops`'s attention table: the attention op forward and backward, on every path (the portable one
    /// leaves the per-head products to OpenBLAS), at a window of 49 tokens (row blocks with a remainder).
    @Test func timesTheAttentionOpForwardAndBackward() throws {
        let shape = OpsBenchmark.AttentionShape(name: "test windows", windows: 4, tokens: 49, heads: 2)
        #expect(shape.forwardFLOPs == 4 * 8 * 49 * 49 * 32)
        for path in CPUFeatures.supportedPaths {
            let r = try CPUFeatures.withThreadKernelPath(path) { OpsBenchmark.attention(shape, repetitions: 1) }
            #expect(r.shape.name == "test windows")
            for (seconds, rate) in [(r.forwardSeconds, r.forwardGFLOPS), (r.backwardSeconds, r.backwardGFLOPS)] {
                #expect(seconds.isFinite && seconds > 0, "\(path): \(r)")
                #expect(rate.isFinite && rate > 0, "\(path): \(r)")
            }
        }
    }

    @Test func measuresOneThreadAndAllThreads() {
        let peak = OpsBenchmark.fmaPeak(threads: 2, repetitions: 1)
        #expect(peak.threads == 2)
        #expect(peak.oneThreadGFLOPS.isFinite && peak.oneThreadGFLOPS > 0)
        #expect(peak.allThreadsGFLOPS.isFinite && peak.allThreadsGFLOPS > 0)
    }
}
