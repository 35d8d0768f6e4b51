import Foundation
import MixKit
import MixmaeRuns
import TestSupport
import Testing

/// `mixmae import`, PyTorch files as `init.weights` and `forward --weights`, end to end on
/// the fixtures in fixtures/pth.
@Suite struct ImportTests {
    let pth = TestPaths.shared.appendingPathComponent("fixtures/pth")

    func environment(_ folder: TemporaryFolder) -> [String: String] {
        [
            "MIXMAE_HOME": folder.file("home"),
            "MIXMAE_REGISTRY": TestPaths.packageRoot.appendingPathComponent("registry.yaml").path,
        ]
    }

    func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// Each fixture converts to exactly its expected tensors (names, dtypes, shapes, bytes),
    /// and the import is recorded: the PyTorch file used, the safetensors produced.
    @Test(arguments: [
        ("official_layout.pth", "official_layout.expected.safetensors", "model", "zip"),
        ("views.pth", "views.expected.safetensors", "state_dict", "zip"),
        ("views_legacy.pth", "views.expected.safetensors", "state_dict", "legacy"),
    ])
    func importWritesTheExpectedTensors(_ file: String, _ expectedFile: String, _ key: String, _ format: String) throws
    {
        let folder = try TemporaryFolder("import")
        let source = pth.appendingPathComponent(file).path
        let out = folder.file("out.safetensors")
        let result = try runMixmae(
            ["import", source, "--out", out, "--format", "json"], in: folder.path, environment: environment(folder))
        #expect(result.status == 0, "\(result.stderr)")
        let printed = try json(result.stdout)
        #expect(printed["source"] as? String == source)
        #expect(printed["sourceFormat"] as? String == format)
        let expected = try SafeTensorsFile(path: pth.appendingPathComponent(expectedFile).path)
        let written = try SafeTensorsFile(path: out)
        #expect(Set(written.names) == Set(expected.names))
        for name in expected.names {
            #expect(try written.raw(name) == expected.raw(name), "\(file): tensor \(name)")
        }
        #expect(printed["tensorCount"] as? Int == expected.names.count)
        let (sha, _) = try digest(source)
        #expect(printed["sourceSHA256"] as? String == sha)
        #expect(written.metadata["mixmae.source_sha256"] == sha)
        #expect(printed["key"] as? String == key || key == "state_dict", "\(printed)")

        let registry = try RunRegistry(home: URL(fileURLWithPath: folder.file("home")))
        let run = try #require(try registry.runs(task: "import").first)
        #expect(run.status == .finished)
        #expect(try registry.tags(ofRun: run.id)["import.source.sha256"] == sha)
        let events = try registry.recordedArtifacts(ofRun: run.id)
        #expect(
            events.contains { $0.event.direction == .used && $0.artifact.sha256 == sha && $0.artifact.path == source })
        #expect(
            events.contains {
                $0.event.direction == .produced && $0.artifact.kind == ArtifactKind("imported")
                    && $0.artifact.path == out
            })

        let table = try runMixmae(["import", source], in: folder.path, environment: environment(folder))
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("source sha256") && table.stdout.contains(sha), "\(table.stdout)")
    }

    /// `mixmae rerun` of an import run is refused with what it is and the two commands
    /// that do what one would want instead (import again, train from its output); nothing
    /// new is recorded.
    @Test func rerunOfAnImportRunSaysWhatToDoInstead() throws {
        let folder = try TemporaryFolder("import")
        let source = pth.appendingPathComponent("official_layout.pth").path
        let imported = try runMixmae(
            ["import", source, "--format", "json"], in: folder.path, environment: environment(folder))
        #expect(imported.status == 0, "\(imported.stderr)")
        let output = try #require(try json(imported.stdout)["output"] as? String)
        let rerun = try runMixmae(["rerun", "run:1"], in: folder.path, environment: environment(folder))
        #expect(rerun.status == 1, "\(rerun.stdout)\(rerun.stderr)")
        #expect(
            rerun.stderr.contains(
                "run 1: is an import run (`mixmae import` converted \(source) to safetensors); it trained nothing, "
                    + "so `mixmae rerun` has no training recipe to run again"), "\(rerun.stderr)")
        #expect(rerun.stderr.contains("mixmae import \(source) --key model"), "\(rerun.stderr)")
        #expect(rerun.stderr.contains("--set init.weights=\(output)"), "\(rerun.stderr)")
        let registry = try RunRegistry(home: URL(fileURLWithPath: folder.file("home")))
        #expect(try registry.runs().count == 1)
    }

    /// The file's SHA-256 by coreutils' sha256sum (independent of ours).
    func digest(_ path: String) throws -> (String, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (String(text.prefix(64)), try Data(contentsOf: URL(fileURLWithPath: path)).count)
    }

    /// A pickle that names os.system is refused with the name; nothing is written, no run recorded.
    @Test func maliciousFileIsRefusedAndNothingRuns() throws {
        let folder = try TemporaryFolder("import")
        let marker = folder.file("pwned")
        let out = folder.file("out.safetensors")
        let result = try runMixmae(
            ["import", pth.appendingPathComponent("malicious.pth").path, "--out", out], in: folder.path,
            environment: environment(folder))
        #expect(result.status == 1)
        #expect(result.stderr.contains("os.system") || result.stderr.contains("posix.system"), "\(result.stderr)")
        #expect(result.stderr.contains("malicious.pth"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(!FileManager.default.fileExists(atPath: marker))
        let runs = try runMixmae(
            ["runs", "list", "--format", "json"], in: folder.path, environment: environment(folder))
        #expect(runs.status == 0)
        #expect(!runs.stdout.contains("import"), "\(runs.stdout)")
    }

    /// `--key` names the state dict; a wrong key lists the dicts of tensors there are.
    @Test func wrongKeyListsTheCandidates() throws {
        let folder = try TemporaryFolder("import")
        let result = try runMixmae(
            ["import", pth.appendingPathComponent("official_layout.pth").path, "--key", "modle"], in: folder.path,
            environment: environment(folder))
        #expect(result.status == 1)
        #expect(result.stderr.contains("'modle'") && result.stderr.contains("'model'"), "\(result.stderr)")
    }

    /// `forward --weights official_layout.pth` gives exactly the outputs of the parity case's safetensors.
    @Test func forwardWithThePyTorchFileEqualsTheSafetensors() throws {
        let folder = try TemporaryFolder("import")
        let parity = TestPaths.shared.appendingPathComponent("fixtures/parity/pretrain_small").path
        var outputs: [SafeTensorsFile] = []
        for (i, weights) in [parity + "/weights.safetensors", pth.appendingPathComponent("official_layout.pth").path]
            .enumerated()
        {
            let out = folder.file("out\(i).safetensors")
            let result = try runMixmae(
                [
                    "forward", "--config", parity + "/config.json", "--weights", weights, "--batch",
                    parity + "/batch.safetensors", "--out", out,
                ], in: TestPaths.packageRoot.path)
            #expect(result.status == 0, "\(result.stderr)")
            outputs.append(try SafeTensorsFile(path: out))
        }
        #expect(Set(outputs[0].names) == Set(outputs[1].names))
        #expect(outputs[0].names.count > 3)
        for name in outputs[0].names {
            #expect(try outputs[0].tensor(name).scalars == outputs[1].tensor(name).scalars, "\(name)")
        }
    }

    /// A finetune whose init.weights is a .pth hangs below the import in `lineage`, and a
    /// second finetune from the same file reuses that import; `mixmae import` then
    /// `init.weights: sha256:...` gives the same shape of lineage.
    @Test func finetuneFromAPyTorchFileHangsBelowItsImport() throws {
        let workspace = try TrainingWorkspace(images: 96)
        let source = pth.appendingPathComponent("official_layout.pth").path
        try workspace.classifyRecipe(name: "cls.yaml", initWeights: source)
        let first = try workspace.mixmae(["train", "cls.yaml"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("imported \(source)"), "\(first.stderr)")
        let second = try workspace.mixmae(["train", "cls.yaml"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("using the import of"), "\(second.stderr)")

        let registry = try workspace.registry
        let imports = try registry.runs(task: "import")
        #expect(imports.count == 1)
        let finetunes = try registry.runs(task: "classify")
        #expect(finetunes.count == 2)
        let tree = try workspace.mixmae(["lineage", "run:\(finetunes.map(\.id).max()!)"])
        #expect(tree.status == 0, "\(tree.stderr)")
        #expect(tree.stdout.contains("import"), "\(tree.stdout)")
        #expect(tree.stdout.contains("official_layout.pth"), "\(tree.stdout)")

        let graph = try registry.lineage(of: .run(finetunes[0].id), direction: .up)
        let importRun = imports[0].id
        #expect(graph.runs[importRun] != nil, "the import run is an ancestor")
        let roots = graph.artifacts.values.filter { artifact in
            !graph.edges.contains { $0.artifact == artifact.id && $0.direction == .produced }
        }
        #expect(roots.map(\.path) == [source], "the lineage starts at the PyTorch file: \(roots.map(\.path))")

        let down = try registry.lineage(of: .run(importRun), direction: .down)
        #expect(Set(finetunes.map(\.id)).isSubset(of: Set(down.runs.keys)), "both finetunes hang below the import")
    }
}
