import Foundation
import MixmaeRuns
import MixmaeSupport
import TestSupport
import Testing

@Suite struct ArtifactTests {
    /// A finished run with one checkpoint.last; returns the registry, run and artifact.
    func producer(_ directory: TemporaryFolder, content: String = "weights v1")
        throws -> (RunRegistry, ActiveRun, Artifact, URL)
    {
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let run = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "a: 1\n"), seed: 0)
        let url = try writeCheckpoint(run.outputDirectory.appendingPathComponent("last.safetensors"), content)
        let artifact = try run.recordProduced(fileAt: url, role: .checkpointLast, step: 10)
        try run.finish(.finished)
        return (registry, run, artifact, url)
    }

    @Test func producedArtifactIsHashedAndLinked() throws {
        let directory = try TemporaryFolder("artifacts")
        let (registry, run, artifact, url) = try producer(directory)
        let (digest, size) = try FileDigest.of(url)
        #expect(artifact.sha256 == digest)
        #expect(artifact.size == size)
        #expect(artifact.path == url.path)
        #expect(artifact.kind == .checkpoint)
        #expect(artifact.producingRunID == run.id)
        let recorded = try registry.recordedArtifacts(ofRun: run.id)
        #expect(recorded.count == 1)
        #expect(recorded[0].event.direction == .produced)
        #expect(recorded[0].event.role == .checkpointLast)
        #expect(recorded[0].event.step == 10)
        #expect(recorded[0].fileState == .present)
        #expect(run.outputDirectory.path == directory.url.appendingPathComponent("runs/\(run.id)").path)
    }

    @Test func aMovedCheckpointStillResolvesByHash() throws {
        let directory = try TemporaryFolder("artifacts")
        let (registry, run, artifact, url) = try producer(directory)
        let moved = directory.fileURL("elsewhere/renamed.safetensors")
        try FileManager.default.createDirectory(
            at: moved.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: url, to: moved)

        // Before anyone names the new place, run:ID reports the file missing and says what to do.
        let missing = thrownError { _ = try registry.resolveWeights(.run(run.id, .last)) }
        guard case RegistryError.artifactMissing? = missing as? RegistryError else {
            Issue.record("expected artifactMissing, got \(String(describing: missing))")
            return
        }
        #expect("\(missing!)".contains("name the file by its new path"))

        // Naming the moved file matches it by content: same artifact, lineage kept.
        let byPath = try registry.resolveWeights(try WeightsReference(parsing: moved.path))
        #expect(byPath.artifact.id == artifact.id)
        #expect(byPath.artifact.producingRunID == run.id)
        #expect(byPath.artifact.path == moved.path)
        #expect(try registry.knownArtifact(forFileAt: moved)?.id == artifact.id)
        // ... and now run:ID and sha256: find it at its new place.
        #expect(try registry.resolveWeights(.run(run.id, .last)).url.path == moved.path)
        #expect(try registry.resolveWeights(.sha256Prefix(String(artifact.sha256.prefix(10)))).url.path == moved.path)
        // A later run that uses it links to the producing run.
        let user = try registry.beginRun(task: "finetune", recipe: RecipeSnapshot(text: "b: 2\n"), seed: 0)
        try user.use(try WeightsReference(parsing: moved.path), role: .initBackbone)
        #expect(try registry.parents(ofRun: user.id).map(\.runID) == [run.id])
        #expect(try registry.lineage(of: .run(user.id), direction: .up).runs.keys.sorted() == [run.id, user.id])
    }

    @Test func aTamperedCheckpointIsReported() throws {
        let directory = try TemporaryFolder("artifacts")
        let (registry, run, artifact, url) = try producer(directory)
        var bytes = try Data(contentsOf: url)
        bytes[3] ^= 0x01
        try bytes.write(to: url)

        for reference in [
            WeightsReference.run(run.id, .last), .sha256Prefix(String(artifact.sha256.prefix(8))), .file(url),
        ] {
            let error = thrownError { _ = try registry.resolveWeights(reference) }
            guard
                case RegistryError.artifactModified(let path, let expected, let actual, let other)? =
                    error as? RegistryError
            else {
                Issue.record("\(reference): expected artifactModified, got \(String(describing: error))")
                continue
            }
            #expect(path == url.path)
            #expect(expected.id == artifact.id)
            #expect(actual == (try FileDigest.of(url)).sha256)
            #expect(other == nil)
            #expect("\(error!)".contains("changed since it was recorded"))
            #expect("\(error!)".contains("modified outside mixmae"))
        }
        // The tampered bytes were not registered as a new artifact.
        #expect(try registry.artifacts(withPrefix: "").count == 1)
        let direct = thrownError { _ = try registry.verify(artifact) }
        #expect(direct != nil)
    }

    @Test func anOverwrittenCheckpointNamesTheNewerArtifact() throws {
        let directory = try TemporaryFolder("artifacts")
        let (registry, _, first, url) = try producer(directory)
        let run = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "a: 1\n"), seed: 0)
        let second = try run.recordProduced(fileAt: try writeCheckpoint(url, "weights v2"), role: .checkpointLast)
        let error = thrownError { _ = try registry.resolveWeights(.sha256Prefix(first.sha256)) }
        guard case RegistryError.artifactModified(_, _, _, let other)? = error as? RegistryError else {
            Issue.record("expected artifactModified, got \(String(describing: error))")
            return
        }
        #expect(other?.id == second.id)
        #expect("\(error!)".contains("overwritten by a later file"))
        #expect(try registry.fileState(of: registry.artifact(id: first.id)!) == .overwritten)
        // The newer content resolves by path.
        #expect(try registry.resolveWeights(.file(url)).artifact.id == second.id)
    }

    @Test func aMissingCheckpointIsReported() throws {
        let directory = try TemporaryFolder("artifacts")
        let (registry, run, artifact, url) = try producer(directory)
        try FileManager.default.removeItem(at: url)
        let error = thrownError { _ = try registry.checkpoint(ofRun: run.id, role: .checkpointLast) }
        guard case RegistryError.artifactMissing(let missing, let path)? = error as? RegistryError else {
            Issue.record("expected artifactMissing, got \(String(describing: error))")
            return
        }
        #expect(missing.id == artifact.id)
        #expect(path == url.path)
        #expect("\(error!)".contains("no file at \(url.path)"))
    }

    @Test func ambiguousShaPrefixListsTheMatches() throws {
        let directory = try TemporaryFolder("artifacts")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let run = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "a\n"), seed: 0)
        // 17 artifacts: two must share their first hex digit.
        var artifacts: [Artifact] = []
        for index in 0..<17 {
            let url = try writeCheckpoint(run.outputDirectory.appendingPathComponent("e\(index).bin"), "epoch \(index)")
            artifacts.append(try run.recordProduced(fileAt: url, role: .checkpointEpoch, step: Int64(index)))
        }
        let byDigit = Dictionary(grouping: artifacts, by: { String($0.sha256.prefix(1)) })
        let (digit, clash) = try #require(byDigit.first { $0.value.count > 1 })
        let error = thrownError { _ = try registry.resolveWeights(.sha256Prefix(digit)) }
        guard case RegistryError.ambiguousPrefix(let prefix, let matches)? = error as? RegistryError else {
            Issue.record("expected ambiguousPrefix, got \(String(describing: error))")
            return
        }
        #expect(prefix == digit)
        #expect(Set(matches.map(\.id)) == Set(clash.map(\.id)))
        for artifact in clash {
            #expect("\(error!)".contains(artifact.sha256))
        }
        #expect("\(error!)".contains("give more digits"))
        // Upper-case input works, and a long enough prefix is unique.
        let unique = try registry.resolveWeights(
            try WeightsReference(parsing: "sha256:" + clash[0].sha256.prefix(20).uppercased()))
        #expect(unique.artifact.id == clash[0].id)
        let none = thrownError { _ = try registry.resolveWeights(.sha256Prefix(String(repeating: "0", count: 40))) }
        #expect("\(none!)".contains("no artifact's sha256 starts with"))
    }

    @Test func anUnknownFileBecomesAnExternalArtifact() throws {
        let directory = try TemporaryFolder("artifacts")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let downloaded = try writeCheckpoint(directory.fileURL("imagenet-pretrained.safetensors"), "from the internet")
        let run = try registry.beginRun(task: "finetune", recipe: RecipeSnapshot(text: "x\n"), seed: nil)
        let resolved = try run.use(try WeightsReference(parsing: downloaded.path), role: .initBackbone)
        #expect(resolved.artifact.kind == .external)
        #expect(resolved.artifact.producingRunID == nil)
        let graph = try registry.lineage(of: .run(run.id), direction: .up)
        #expect(graph.artifacts.values.map(\.sha256) == [resolved.artifact.sha256])
        // Resolving the same file again finds the same artifact.
        #expect(try registry.resolveWeights(.file(downloaded)).artifact.id == resolved.artifact.id)
    }

    @Test func runCheckpointChoicesAndErrors() throws {
        let directory = try TemporaryFolder("artifacts")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let run = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "x\n"), seed: nil)
        let noCheckpoint = thrownError { _ = try registry.resolveWeights(.run(run.id, .last)) }
        #expect("\(noCheckpoint!)".contains("recorded no checkpoint.last checkpoint; it produced no artifacts"))
        let best = try run.recordProduced(
            fileAt: try writeCheckpoint(run.outputDirectory.appendingPathComponent("best.bin"), "best"),
            role: .checkpointBest)
        let last = try run.recordProduced(
            fileAt: try writeCheckpoint(run.outputDirectory.appendingPathComponent("last.bin"), "last"),
            role: .checkpointLast)
        #expect(try registry.resolveWeights(try WeightsReference(parsing: "run:\(run.id):best")).artifact.id == best.id)
        #expect(try registry.resolveWeights(try WeightsReference(parsing: "run:\(run.id)")).artifact.id == last.id)
        #expect(try registry.resolveWeights(try WeightsReference(parsing: "run:\(run.id):last")).artifact.id == last.id)
        #expect("\(thrownError { _ = try registry.resolveWeights(.run(4242, .last)) }!)".contains("no run 4242"))
        #expect("\(thrownError { _ = try WeightsReference(parsing: "run:x") }!)".contains("numeric run id"))
        #expect("\(thrownError { _ = try WeightsReference(parsing: "run:3:worst") }!)".contains("use last or best"))
        #expect("\(thrownError { _ = try WeightsReference(parsing: "sha256:xyz") }!)".contains("hexadecimal"))
    }

    @Test func metricsKeepNaNAndSummariesPickLastAndBest() throws {
        let directory = try TemporaryFolder("artifacts")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let run = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "x\n"), seed: nil)
        try run.log(step: 1, ["loss": 2.0, "top1": 0.1, "lr": 1e-4])
        try run.log(step: 2, ["loss": 0.5, "top1": 0.7, "lr": 2e-4])
        try run.log(step: 3, ["loss": .nan, "top1": 0.6, "lr": 1e-4])
        let loss = try registry.metrics(ofRun: run.id, named: "loss")
        #expect(loss.map(\.step) == [1, 2, 3])
        #expect(loss[2].value.isNaN)
        let summaries = Dictionary(
            uniqueKeysWithValues: try registry.metricSummaries(ofRun: run.id).map { ($0.name, $0) })
        #expect(summaries["loss"]?.last.value.isNaN == true)
        #expect(summaries["loss"]?.best == MetricSummary.Point(step: 2, value: 0.5))
        #expect(summaries["top1"]?.best == MetricSummary.Point(step: 2, value: 0.7))
        #expect(summaries["top1"]?.last == MetricSummary.Point(step: 3, value: 0.6))
        #expect(summaries["lr"]?.best == nil)
        #expect(summaries["lr"]?.count == 3)
    }
}
