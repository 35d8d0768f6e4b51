import Foundation
import MixKit
import MixmaeRuns
import TestSupport
import Testing

/// `qemu-x86_64`, qemu's user-mode emulator (Debian's qemu-user), found on PATH or where Debian puts it.
enum QEMU {
    static var path: String? { executable(named: "qemu-x86_64", else: "/usr/bin/qemu-x86_64") }
}

/// An x86-64 CPU with fewer instructions than this machine's, as qemu emulates it, and
/// what mixmae must run there.
struct EmulatedCPU: CustomTestStringConvertible, Sendable {
    /// qemu's name of the CPU model (`qemu-x86_64 -cpu help`).
    let model: String
    /// What it lacks, for the test's name and its failures.
    let lacks: String
    /// The kernel path mixmae must choose on it (`mixmae --version`'s "C kernels:").
    let kernelPath: CPUFeatures.KernelPath
    /// OpenBLAS's name of the kernels it picks on that CPU; the native run asks for the same ones.
    let openBLASCore: String
    /// glibc's names of the features it lacks (`GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,...`), hidden from glibc
    /// in the native run so that libm's functions take the builds they take there: glibc builds log, sin, cos,
    /// pow, exp and cosf twice, once with fused multiply-adds, and the two round differently on some inputs.
    let glibcLacks: [String]

    var testDescription: String { "\(model), \(lacks): \(kernelPath)" }

    static let all = [
        EmulatedCPU(
            model: "Nehalem", lacks: "no AVX", kernelPath: .portable, openBLASCore: "Nehalem",
            glibcLacks: ["AVX", "AVX2", "FMA"]),
        EmulatedCPU(
            model: "SandyBridge", lacks: "AVX without AVX2 and FMA", kernelPath: .portable,
            openBLASCore: "Sandybridge", glibcLacks: ["AVX2", "FMA"]),
        EmulatedCPU(
            model: "Haswell", lacks: "no AVX-512", kernelPath: .avx2, openBLASCore: "Haswell", glibcLacks: []),
    ]

    /// The CPUs whose path this machine can also run natively (every x86-64 machine the project runs on has
    /// AVX2, so all three there).
    static var comparable: [EmulatedCPU] { all.filter(\.kernelPath.isSupported) }
}

/// The built `mixmae` on CPUs older than this machine's, emulated instruction by
/// instruction by `qemu-x86_64 -cpu MODEL`: an instruction the CPU lacks ends the
/// process with SIGILL, as it would on that hardware. CPUInstructionSetTests reads
/// MixKit's machine code for wide instructions outside its two vector paths, and the
/// kernel-path tests force a path on this CPU with `MIXMAE_CPU`; these runs add the
/// whole process on a CPU that lacks the instructions: the Swift runtime, Foundation,
/// OpenBLAS and the other libraries, the path chosen from that CPU's own CPUID, and
/// every op a pretraining step runs. qemu 7.2 has no AVX-512: the avx512 path runs in
/// the other suites, on a machine that has it. (qemu's default model, qemu64, stops in
/// OpenBLAS: it takes the AMD-branded CPU for an Opteron and runs that kernel's 3DNow!
/// `femms`, which qemu64 lacks and a real Opteron has.)
@Suite(.serialized, .enabled(if: hostIsX86, "qemu-x86_64 runs x86-64 programs on an x86-64 host"))
struct EmulatedCPUTests {
    /// A MixMAE pretraining run (3 steps, AdamW, checkpoint) and a classification
    /// finetune from it with the paper's recipe (3 steps with RandAugment, mixup and
    /// cutmix, random erasing, drop path and layer decay, then top-1 on the validation
    /// images) on the emulated CPU, then the same runs natively with that CPU's kernel
    /// path, OpenBLAS kernels and libm versions forced: MixKit's blocking and its threads'
    /// shares of the work depend on the path and the thread count only (no cache sizes
    /// are read), so every weight of each pair of checkpoints, and every loss, learning
    /// rate and accuracy the runs logged, must agree to the bit. A kernel that reads the
    /// CPU wrongly, or a path that computes something else where it runs for real, shows
    /// up here as a signal or as different numbers.
    @Test(arguments: EmulatedCPU.comparable)
    func trainsOnAnEmulatedCPUAsOnThisOneWithItsPath(cpu: EmulatedCPU) throws {
        guard let qemu = QEMU.path else {
            throw TestSetupError("no qemu-x86_64: install Debian's qemu-user with scripts/install-deps")
        }
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1)
        try ws.folder.write(
            "classify.yaml",
            """
            base: \(TestPaths.packageRoot.path)/recipes/base/classify.yaml
            data: {root: data/classification/train, val_root: data/classification/val, img_size: 64, batch_size: 16}
            schedule: {epochs: 1, warmup_epochs: 0.5}
            init: {weights: "run:1"}
            model:
              backbone: \(TrainingWorkspace.backbone)
            """)
        let emulator = [qemu, "-cpu", cpu.model]
        var forced = ["MIXMAE_CPU": cpu.kernelPath.rawValue, "OPENBLAS_CORETYPE": cpu.openBLASCore]
        if !cpu.glibcLacks.isEmpty {
            forced["GLIBC_TUNABLES"] = "glibc.cpu.hwcaps=" + cpu.glibcLacks.map { "-" + $0 }.joined(separator: ",")
        }

        let kernels = "C kernels: \(cpu.kernelPath) "
        let blas = "BLAS: OpenBLAS \(cpu.openBLASCore)"
        let version = try ws.mixmaeAsBuilt(["--version"], launcher: emulator)
        #expect(version.status == 0 && !version.signalled, "\(cpu.model): \(version.stderr)")
        #expect(version.stdout.contains(kernels) && version.stdout.contains(blas), "\(cpu.model): \(version.stdout)")
        let nativeVersion = try ws.mixmaeAsBuilt(["--version"], settings: forced)
        #expect(
            nativeVersion.stdout.contains(kernels) && nativeVersion.stdout.contains(blas),
            "natively with \(forced): \(nativeVersion.stdout)\(nativeVersion.stderr)")

        // Runs 1 and 2 pretrain, 3 and 4 finetune run 1's checkpoint; odd ones on the emulated CPU.
        for recipe in ["pretrain.yaml", "classify.yaml"] {
            let emulated = try ws.mixmaeAsBuilt(["train", recipe], launcher: emulator)
            let ending = emulated.signalled ? "signal \(emulated.status)" : "status \(emulated.status)"
            try #require(
                emulated.status == 0 && !emulated.signalled,
                """
                \(recipe) on an emulated \(cpu.model) (\(cpu.lacks)) ended with \(ending): \
                \(emulated.stderr.suffix(2000))
                """)
            let native = try ws.mixmaeAsBuilt(["train", recipe], settings: forced)
            try #require(native.status == 0, "\(recipe) natively with \(forced): \(native.stderr)")
        }
        for (emulatedRun, nativeRun) in [(1, 2), (3, 4)] as [(RunID, RunID)] {
            try ws.expectSameRuns(emulatedRun, nativeRun, "\(cpu.model) against the native \(cpu.kernelPath) run")
        }
        #expect(try ws.registry.metrics(ofRun: 3, named: "top1").count == 1, "no top-1 from the finetune")
    }
}

private var hostIsX86: Bool {
    #if arch(x86_64)
        true
    #else
        false
    #endif
}

extension TrainingWorkspace {
    /// Expects runs `a` and `b` to have written the same checkpoint and logged the same losses, learning rates
    /// and accuracies, to the bit.
    func expectSameRuns(_ a: RunID, _ b: RunID, _ what: String) throws {
        let (first, second) = (try weights(ofRun: a), try weights(ofRun: b))
        #expect(first.count > 10 && first.keys.sorted() == second.keys.sorted(), "\(what): \(first.count) tensors")
        let differing = first.keys.sorted().filter { first[$0]?.map(\.bitPattern) != second[$0]?.map(\.bitPattern) }
        let (largest, _) = weightDifference(first, second)
        #expect(
            differing.isEmpty,
            """
            \(what): run \(a) and run \(b) differ in \(differing.count) of \(first.count) tensors (largest \
            difference \(largest)), first \(differing.prefix(3))
            """)
        // What the computation gives, not what the clock does (images_per_second, compute_tflops).
        let computed: Set = ["loss", "lr", "val_loss", "top1", "top5"]
        let metrics = { (run: RunID) in
            try self.registry.metrics(ofRun: run).filter { computed.contains($0.name) }.map {
                "\($0.step) \($0.name) \($0.value.bitPattern)"
            }
        }
        let (logged, loggedToo) = (try metrics(a).sorted(), try metrics(b).sorted())
        #expect(logged.count >= 3 && logged == loggedToo, "\(what): metrics \(logged) against \(loggedToo)")
    }

    /// What the suite's environment may set to choose mixmae's kernels, its threads or libm's versions.
    static let kernelSettings = [
        "MIXMAE_CPU", "MIXMAE_CPU_HIDE", "MIXMAE_GEMM", "MIXMAE_GEMM_THREADING", "MIXMAE_THREADS",
        "OPENBLAS_CORETYPE", "GLIBC_TUNABLES",
    ]

    /// `mixmae ARGUMENTS` in the workspace as built, with two compute threads: none of
    /// ``kernelSettings`` from the suite's environment, only `settings`, and `launcher`
    /// (qemu and its CPU model) before the binary.
    func mixmaeAsBuilt(
        _ arguments: [String], launcher: [String] = [], settings: [String: String] = [:]
    ) throws -> ProcessResult {
        let mixmae = try builtMixmae()
        let unset = Self.kernelSettings.flatMap { ["-u", $0] }
        let assignments = settings.merging(["MIXMAE_THREADS": "2"]) { $1 }.sorted { $0.key < $1.key }.map {
            "\($0.key)=\($0.value)"
        }
        return try ChildProcess(
            "/usr/bin/env", unset + assignments + launcher + [mixmae] + arguments, in: folder.path,
            environment: environment
        ).wait(timeout: 900)
    }
}
