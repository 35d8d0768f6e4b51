import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The process's peak resident memory, as `torch_bench.py` reports it
/// (`getrusage(RUSAGE_SELF).ru_maxrss`, which Linux gives in KiB).
///
/// ```swift
/// print("peak RSS \(PeakMemory.residentMiB()) MiB")
/// ```
public enum PeakMemory {
    /// Peak resident set size of this process so far, in MiB (one decimal).
    public static func residentMiB() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        return (Double(usage.ru_maxrss) / 1024 * 10).rounded() / 10
    }
}
