import Foundation
import MixKit
import Testing

/// `MIXMAE_CPU` chooses the kernel path of a whole process: these tests start
/// this test binary again with it set, running only ``childTrainingSteps()``,
/// and compare what that process computes with this one.
@Suite struct CPUPathProcessTests {
    @Test func trainingStepsAgreeOnEveryForcedPath() throws {
        let reference = smallTrainingSteps()
        #expect(reference.allSatisfy { $0.isFinite })
        #expect(reference[3] < reference[0], "the loss should fall over three AdamW steps: \(reference[0...3])")
        for path in CPUFeatures.supportedPaths {
            let child = try runChild(environment: ["MIXMAE_CPU": path.rawValue])
            #expect(child.status == 0, "MIXMAE_CPU=\(path.rawValue): \(child.errors)")
            #expect(child.path == path.rawValue)
            #expect(child.values.count == reference.count)
            for (k, (want, got)) in zip(reference, child.values).enumerated() {
                #expect(
                    Swift.abs(want - got) <= 1e-4 * Swift.max(1, Swift.abs(want)),
                    "value \(k) on \(path): \(got), in-process \(want)")
            }
        }
    }

    @Test func unknownPathStopsTheProcessWithAMessage() throws {
        let child = try runChild(environment: ["MIXMAE_CPU": "avx9"])
        #expect(child.status == 2)
        #expect(child.errors.contains("MIXMAE_CPU=avx9 is not a kernel path: use portable, avx2 or avx512"))
        #expect(child.path == nil)
    }

    @Test func hiddenFeaturesChangeTheChoiceAndRefuseTheirPath() throws {
        let withoutAVX512 = try runChild(environment: ["MIXMAE_CPU_HIDE": "avx512f"])
        #expect(withoutAVX512.status == 0, "\(withoutAVX512.errors)")
        #expect(withoutAVX512.path == (CPUFeatures.KernelPath.avx2.isSupported ? "avx2" : "portable"))

        let withoutAVX2 = try runChild(environment: ["MIXMAE_CPU_HIDE": "avx2,avx512f", "MIXMAE_CPU": "auto"])
        #expect(withoutAVX2.path == "portable", "\(withoutAVX2.errors)")

        let refused = try runChild(environment: ["MIXMAE_CPU_HIDE": "avx512f avx512bw", "MIXMAE_CPU": "avx512"])
        #expect(refused.status == 2)
        #expect(refused.errors.contains("MIXMAE_CPU=avx512 asks for the avx512 kernels, but this CPU lacks"))
        #expect(refused.errors.contains("avx512f avx512bw"))
        #expect(refused.errors.contains("Unset MIXMAE_CPU"))
        #expect(refused.path == nil)
    }

    @Test func blasKernelsFollowTheKernelPathUnlessTheUserChose() throws {
        #expect(!CPUFeatures.blasKernels.isEmpty, "MixKit links an OpenBLAS built with DYNAMIC_ARCH")
        let avx512Kernels: Set = ["skylakex", "cooperlake", "sapphirerapids"]
        for path in CPUFeatures.supportedPaths {
            let child = try runChild(environment: ["MIXMAE_CPU": path.rawValue])
            let kernels = try #require(child.blasKernels, "MIXMAE_CPU=\(path.rawValue): \(child.errors)")
            switch path {
            case .avx512: #expect(avx512Kernels.contains(kernels.lowercased()), "\(child.blasNote)")
            case .avx2: #expect(["haswell", "zen"].contains(kernels.lowercased()), "\(child.blasNote)")
            case .portable: #expect(child.blasNote.isEmpty, "the portable path keeps OpenBLAS's choice: \(kernels)")
            }
            if !child.blasNote.isEmpty {
                #expect(child.blasNote.contains("switched to \(kernels) to match the \(path) kernels"))
            }
        }
        let chosen = try runChild(environment: ["OPENBLAS_CORETYPE": "Nehalem"])
        #expect(chosen.blasKernels == "Nehalem", "\(chosen.errors)")
        #expect(chosen.blasNote == "OPENBLAS_CORETYPE=Nehalem")
    }

    /// What the parent tests run in the child process: writes the kernel path
    /// and ``smallTrainingSteps()`` to the file the parent names.
    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment[childOutputVariable] != nil,
            "runs only in the process that CPUPathProcessTests starts"))
    func childTrainingSteps() throws {
        let file = try #require(ProcessInfo.processInfo.environment[childOutputVariable])
        let text =
            "\(CPUFeatures.kernelPath)\n" + smallTrainingSteps().map { "\($0)" }.joined(separator: " ")
            + "\n\(CPUFeatures.blasKernels)\t\(CPUFeatures.blasNote)"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }
}

private let childOutputVariable = "MIXKIT_TEST_CPU_CHILD_OUTPUT"

/// Three AdamW steps of a one-block transformer classifier (layer norm,
/// attention, GELU MLP, cross entropy): the three losses, the loss after the
/// last step, then the sum and the sum of squares of each parameter but the
/// qkv bias. (A third of that bias, the keys', has a zero gradient up to
/// rounding, which AdamW's normalisation turns into steps of either sign.)
private func smallTrainingSteps() -> [Float] {
    var rng = RandomGenerator(seed: 11)
    let (batch, tokens, dim, heads, classes) = (4, 16, 32, 4, 10)
    let x = Tensor.randomNormal([batch, tokens, dim], using: &rng)
    let parameters: [(String, Tensor)] = [
        ("norm.weight", Tensor.ones([dim])), ("norm.bias", Tensor.zeros([dim])),
        ("qkv.weight", Tensor.randomNormal([3 * dim, dim], std: 0.1, using: &rng)),
        ("qkv.bias", Tensor.zeros([3 * dim])),
        ("fc1.weight", Tensor.randomNormal([2 * dim, dim], std: 0.1, using: &rng)),
        ("fc2.weight", Tensor.randomNormal([classes, 2 * dim], std: 0.1, using: &rng)),
    ].map { ($0.0, $0.1.asParameter(named: $0.0)) }
    let p = Dictionary(uniqueKeysWithValues: parameters)
    let optimizer = AdamW(
        groups: [ParameterGroup(name: "all", parameters: parameters, weightDecay: 0.05)], learningRate: 1e-2)
    func loss() -> Tensor {
        let h = layerNorm(x, weight: p["norm.weight"]!, bias: p["norm.bias"]!)
        let qkv = linear(h, weight: p["qkv.weight"]!, bias: p["qkv.bias"]!)
        let attended = multiHeadAttention(qkv: qkv, heads: heads, scale: 1 / Float(dim / heads).squareRoot())
        let logits = mlp(
            attended + x, fc1Weight: p["fc1.weight"]!, fc1Bias: nil, fc2Weight: p["fc2.weight"]!, fc2Bias: nil
        ).mean(axes: [1])
        return crossEntropy(logits, labels: [1, 4, 7, 9])
    }
    var results: [Float] = []
    for _ in 0..<3 {
        let value = loss()
        optimizer.zeroGrad()
        value.backward()
        optimizer.step()
        results.append(value.item())
    }
    results.append(withNoGrad { loss().item() })
    for (name, t) in parameters where name != "qkv.bias" {
        results.append(t.scalars.reduce(0, +))
        results.append(t.scalars.reduce(0) { $0 + $1 * $1 })
    }
    return results
}

/// What a child process reported: its exit status, standard error, and the
/// kernel path and values it wrote (nil and empty when it wrote nothing).
private struct ChildReport {
    var status: Int32
    var errors: String
    var path: String?
    var values: [Float]
    /// The child's ``CPUFeatures/blasKernels`` and ``CPUFeatures/blasNote``.
    var blasKernels: String?
    var blasNote = ""
}

/// Runs this test binary's ``CPUPathProcessTests/childTrainingSteps()`` alone,
/// with `environment` added to this process's.
private func runChild(environment: [String: String]) throws -> ChildReport {
    let output = try temporaryDirectory("cpu-child").appendingPathComponent("report.txt")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    process.arguments = ["--testing-library", "swift-testing", "--filter", "CPUPathProcessTests/childTrainingSteps"]
    var env = ProcessInfo.processInfo.environment
    for key in ["MIXMAE_CPU", "MIXMAE_CPU_HIDE", "OPENBLAS_CORETYPE"] { env[key] = nil }
    env.merge(environment) { $1 }
    env[childOutputVariable] = output.path
    process.environment = env
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard let text = try? String(contentsOf: output, encoding: .utf8) else {
        return ChildReport(status: process.terminationStatus, errors: errorText, path: nil, values: [])
    }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let blas = lines.dropFirst(2).first?.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    return ChildReport(
        status: process.terminationStatus, errors: errorText, path: lines.first.map(String.init),
        values: lines.dropFirst().first?.split(separator: " ").compactMap { Float($0) } ?? [],
        blasKernels: blas?.first, blasNote: blas?.dropFirst().first ?? "")
}
