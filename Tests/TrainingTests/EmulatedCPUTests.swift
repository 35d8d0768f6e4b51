import Foundation
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
    let kernelPath: String
    /// OpenBLAS's name of the kernels it picks on that CPU; the native run asks for the same ones.
    let openBLASCore: String

    var testDescription: String { "\(model), \(lacks): \(kernelPath)" }
}

/// The built `mixmae` on CPUs older than this machine's, emulated instruction by
/// instruction by `qemu-x86_64 -cpu MODEL`: an instruction the CPU lacks ends the
/// process with SIGILL, as it would on that hardware. CPUInstructionSetTests reads
/// MixKit's machine code for wide instructions outside its two vector paths, and the
/// kernel-path tests force a path on this CPU with `MIXMAE_CPU`; these runs add the
/// whole process on a CPU that lacks the instructions: the Swift runtime, Foundation,
/// OpenBLAS and the other libraries, the path chosen from that CPU's own CPUID, and
/// every op a pretraining step runs. qemu 7.2 has no AVX-512, so the avx512 path is not
/// among them. (qemu's default model, qemu64, stops in OpenBLAS: it takes the
/// AMD-branded CPU for an Opteron and runs that kernel's 3DNow! `femms`, which qemu64
/// lacks and a real Opteron has.)
@Suite(.serialized) struct EmulatedCPUTests {
    static let cpus = [
        EmulatedCPU(model: "Nehalem", lacks: "no AVX", kernelPath: "portable", openBLASCore: "Nehalem"),
        EmulatedCPU(
            model: "SandyBridge", lacks: "AVX without AVX2 and FMA", kernelPath: "portable",
            openBLASCore: "Sandybridge"),
        EmulatedCPU(model: "Haswell", lacks: "no AVX-512", kernelPath: "avx2", openBLASCore: "Haswell"),
    ]

    /// A MixMAE pretraining run (3 steps, AdamW, checkpoint) on the emulated CPU, then
    /// the same run natively with that CPU's kernel path and OpenBLAS kernels forced:
    /// the same instructions in the same order (MixKit's blocking and thread shares do
    /// not depend on the CPU), so every weight of the two checkpoints must agree to the
    /// bit. A kernel that reads the CPU wrongly, or a path that computes something else
    /// where it runs for real, shows up here as a signal or as different weights.
    @Test(arguments: cpus) func pretrainsOnAnEmulatedCPUAsOnThisOneWithItsPath(cpu: EmulatedCPU) throws {
        guard let qemu = QEMU.path else {
            throw TestSetupError("no qemu-x86_64: install Debian's qemu-user with scripts/install-deps")
        }
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1)

        let version = try ws.emulated(qemu, cpu: cpu, ["--version"])
        #expect(version.status == 0 && !version.signalled, "\(cpu.model): \(version.stderr)")
        #expect(version.stdout.contains("C kernels: \(cpu.kernelPath) "), "\(cpu.model): \(version.stdout)")

        let emulated = try ws.emulated(qemu, cpu: cpu, ["train", "pretrain.yaml"])
        let ending = emulated.signalled ? "signal \(emulated.status)" : "status \(emulated.status)"
        try #require(
            emulated.status == 0 && !emulated.signalled,
            "mixmae on an emulated \(cpu.model) (\(cpu.lacks)) ended with \(ending): \(emulated.stderr.suffix(2000))")
        let native = try runMixmae(
            ["train", "pretrain.yaml"], in: ws.folder.path,
            environment: ws.environment.merging(
                ["MIXMAE_CPU": cpu.kernelPath, "OPENBLAS_CORETYPE": cpu.openBLASCore, "MIXMAE_THREADS": "2"]
            ) { $1 })
        try #require(native.status == 0, "\(native.stderr)")

        let onEmulated = try ws.weights(ofRun: 1)
        let onThisCPU = try ws.weights(ofRun: 2)
        #expect(onEmulated.count > 50 && onEmulated.keys.sorted() == onThisCPU.keys.sorted())
        let differing = onEmulated.keys.sorted().filter { onEmulated[$0] != onThisCPU[$0] }
        let (largest, _) = weightDifference(onEmulated, onThisCPU)
        #expect(
            differing.isEmpty,
            "\(cpu.model): \(differing.count) of \(onEmulated.count) tensors differ from the native \(cpu.kernelPath) run (largest difference \(largest)), first \(differing.prefix(3))"
        )
    }
}

extension TrainingWorkspace {
    /// `mixmae ARGUMENTS` in the workspace on qemu's emulation of `cpu`, with two
    /// compute threads and nothing in the environment that forces a kernel path or
    /// OpenBLAS's kernels (the suite may run with `MIXMAE_CPU` set).
    func emulated(_ qemu: String, cpu: EmulatedCPU, _ arguments: [String]) throws -> ProcessResult {
        let unset = ["MIXMAE_CPU", "MIXMAE_CPU_HIDE", "OPENBLAS_CORETYPE"].flatMap { ["-u", $0] }
        return try ChildProcess(
            "/usr/bin/env", unset + [qemu, "-cpu", cpu.model, TestPaths.mixmae] + arguments, in: folder.path,
            environment: environment.merging(["MIXMAE_THREADS": "2"]) { $1 }
        ).wait(timeout: 900)
    }
}
