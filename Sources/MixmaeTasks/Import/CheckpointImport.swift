import Foundation
import MixKit
import MixmaeRuns
import MixmaeSupport

/// Converts a PyTorch checkpoint (`.pth`, `.pt`, `.bin`; zip or pre-1.6 format) to a
/// safetensors file with the same tensor names and dtypes, and records the conversion in
/// the run registry as an `import` run: it *used* the source file (role `import.source`)
/// and *produced* the safetensors (kind `imported`, role `import.output`), with the
/// source's path and SHA-256 as tags. `lineage` of anything trained from the output so
/// starts at the PyTorch file.
///
/// Nothing is recorded when the file cannot be read (a pickle that would call
/// `os.system` is refused before any run exists).
///
/// ```swift
/// let importer = CheckpointImport(registry: try RunRegistry())
/// let result = try importer.run(source: URL(fileURLWithPath: "mixmim_base.pth"), key: nil, output: nil)
/// print(result.output, result.tensorCount)   // runs/7/mixmim_base.safetensors 329
/// ```
public struct CheckpointImport {
    /// The task name of import runs.
    public static let task = "import"
    /// The kind of the safetensors an import writes.
    public static let importedKind = ArtifactKind("imported")
    /// The kind of the PyTorch file an import read.
    public static let sourceKind = ArtifactKind("pytorch")
    /// The role of the PyTorch file in its import run.
    public static let sourceRole = ArtifactRole("import.source")
    /// The role of the safetensors in its import run.
    public static let outputRole = ArtifactRole("import.output")

    /// What an import did (what `mixmae import` prints).
    public struct Result: Codable, Equatable {
        /// The import run.
        public var runID: RunID
        public var source: String
        public var sourceSHA256: String
        /// `zip` or `legacy`.
        public var sourceFormat: String
        /// Where the state dict was found: "" for the top level.
        public var key: String
        public var tensorCount: Int
        /// Tensors per dtype (`F32`, `I64`, ...).
        public var dtypes: [String: Int]
        public var strippedModulePrefix: Bool
        /// Entries of the state dict that are not tensors, left out.
        public var skipped: [String]
        public var output: String
        public var outputSHA256: String
        /// True when an earlier import of the same bytes (and key) was reused.
        public var reused: Bool
    }

    public let registry: RunRegistry

    public init(registry: RunRegistry) {
        self.registry = registry
    }

    /// True when the file at `path` is a PyTorch checkpoint (by its first bytes, not its name).
    public static func isPyTorchFile(_ path: String) -> Bool {
        guard let bytes = try? RegularFile.map(path, what: "weights file") else { return false }
        return WeightsFile.format(of: bytes) == .pytorch
    }

    /// Reads `source`, writes its state dict (`key` chooses it; see
    /// ``PyTorchCheckpoint/stateDict(key:)``) to `output` (default:
    /// `runs/<id>/<name>.safetensors` of the import run) and records the import run.
    public func run(source: URL, key: String?, output: URL?) throws -> Result {
        let path = source.standardizedFileURL.path
        let checkpoint = try open(path)
        let stateDict = try checkpoint.stateDict(key: key)
        let (sourceSHA, _) = try FileDigest.of(source)
        let values = try stateDict.safeTensorsValues()
        let sourceArtifact = try registry.registerFile(at: source, kind: Self.sourceKind)
        let recipe = Self.recipeText(source: path, sha256: sourceSHA, key: key, format: checkpoint.format)
        let run = try registry.beginRun(
            task: Self.task, recipe: RecipeSnapshot(text: recipe), seed: nil,
            tags: [
                "import.source": path, "import.source.sha256": sourceSHA, "import.key": stateDict.key,
                "import.format": checkpoint.format.rawValue,
            ])
        do {
            try run.recordUsed(sourceArtifact, role: Self.sourceRole, path: path)
            let stem = (source.lastPathComponent as NSString).deletingPathExtension
            let target =
                output?.standardizedFileURL ?? run.outputDirectory.appendingPathComponent(stem + ".safetensors")
            try SafeTensors.write(
                values,
                metadata: [
                    "format": "pt", "mixmae.imported_from": path, "mixmae.source_sha256": sourceSHA,
                    "mixmae.source_key": stateDict.key, "mixmae.run": String(run.id),
                ], to: target.path)
            let produced = try run.recordProduced(fileAt: target, kind: Self.importedKind, role: Self.outputRole)
            try run.finish(.finished)
            return Result(
                runID: run.id, source: path, sourceSHA256: sourceSHA, sourceFormat: checkpoint.format.rawValue,
                key: stateDict.key, tensorCount: stateDict.names.count,
                dtypes: Dictionary(grouping: stateDict.tensors.values, by: { $0.dtype.rawValue }).mapValues(\.count),
                strippedModulePrefix: stateDict.strippedModulePrefix, skipped: stateDict.skipped,
                output: target.path, outputSHA256: produced.sha256, reused: false)
        } catch {
            try? run.finish(.failed("\(error)"))
            throw error
        }
    }

    /// The output of an earlier finished import of these bytes with this key whose file is
    /// still intact, else a new import into the import run's folder: what a `.pth` named as
    /// `init.weights` or `eval --checkpoint` goes through, so every finetune from one file
    /// hangs below one import.
    public func reusingEarlier(source: URL, key: String?) throws -> Result {
        let (sha, _) = try FileDigest.of(source)
        for earlier in try registry.runs(task: Self.task, status: .finished) {
            let tags = try registry.tags(ofRun: earlier.id)
            guard tags["import.source.sha256"] == sha, key == nil || tags["import.key"] == key,
                let produced = try? registry.recordedCheckpoint(ofRun: earlier.id, role: Self.outputRole),
                let url = try? registry.verify(produced.artifact, preferredPath: produced.event.path),
                let file = try? SafeTensorsFile(path: url.path)
            else { continue }
            let entries = file.entries
            return Result(
                runID: earlier.id, source: source.standardizedFileURL.path, sourceSHA256: sha,
                sourceFormat: tags["import.format"] ?? "", key: tags["import.key"] ?? "",
                tensorCount: entries.count,
                dtypes: Dictionary(grouping: entries.values, by: { $0.dtype.rawValue }).mapValues(\.count),
                strippedModulePrefix: false, skipped: [], output: url.path, outputSHA256: produced.artifact.sha256,
                reused: true)
        }
        return try run(source: source, key: key, output: nil)
    }

    /// Why `mixmae rerun` of import run `id` is refused (an import trained nothing: its
    /// record is a file conversion, not a recipe), with the two commands that do what a
    /// user wants instead: import the source again, or train from the converted weights.
    ///
    /// ```swift
    /// if try registry.run(7)?.task == CheckpointImport.task {
    ///     throw try CheckpointImport.rerunRefusal(of: 7, registry: registry)
    /// }
    /// ```
    public static func rerunRefusal(of id: RunID, registry: RunRegistry) throws -> InputError {
        let tags = try registry.tags(ofRun: id)
        let source = tags["import.source"] ?? "SOURCE.pth"
        let key = tags["import.key"].flatMap { $0.isEmpty ? nil : " --key \(shellQuoted($0))" } ?? ""
        var hint = "to convert the PyTorch file again (a new import run): mixmae import \(shellQuoted(source))\(key)"
        if let output = try? registry.recordedCheckpoint(ofRun: id, role: outputRole) {
            let path = output.event.path
            hint +=
                "; to train from the weights it wrote: mixmae train RECIPE --set init.weights=\(shellQuoted(path)) "
                + "(or init.weights=sha256:\(output.artifact.sha256.prefix(12)))"
        }
        return InputError(
            keyPath: "run \(id)",
            problem: "is an import run (`mixmae import` converted \(source) to safetensors); it trained nothing, "
                + "so `mixmae rerun` has no training recipe to run again",
            hint: hint)
    }

    /// `text` as one shell word: unchanged when it is plain, else in single quotes.
    private static func shellQuoted(_ text: String) -> String {
        let plain = text.allSatisfy { $0.isLetter || $0.isNumber || "/._-+:=@,".contains($0) }
        return plain && !text.isEmpty ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private func open(_ path: String) throws -> PyTorchCheckpoint {
        if !Self.isPyTorchFile(path), (try? SafeTensorsFile(path: path)) != nil {
            throw InputError(
                file: path, problem: "this is a safetensors file already, not a PyTorch checkpoint",
                hint: "use it directly (init.weights, eval --checkpoint, forward --weights)")
        }
        return try PyTorchCheckpoint(path: path)
    }

    private static func recipeText(source: String, sha256: String, key: String?, format: PyTorchCheckpoint.Format)
        -> String
    {
        var lines = [
            "task: import", "import:", "  source: \(quoted(source))", "  sha256: \(sha256)",
            "  format: \(format.rawValue)",
        ]
        if let key { lines.append("  key: \(quoted(key))") }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
