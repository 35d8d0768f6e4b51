import Foundation
import MixmaeSupport

/// The commit marker of one checkpoint. A checkpoint of step S is the files
/// `step-0000000S.safetensors` (weights) and `step-0000000S.optim.safetensors` (optimizer and
/// trainer state) in the run's folder; it counts only once `step-0000000S.manifest.json` names
/// both with their sizes and SHA-256, written last and atomically. The user-visible names
/// (`last.safetensors`, `best.safetensors`, `epoch-NNNN.safetensors`) are then published as
/// hard links of the step files, and the registry records them.
///
/// A kill at any moment therefore leaves either a complete, verifiable checkpoint or files
/// without a manifest that `--resume` and `runs gc` remove.
///
/// ```swift
/// let manifest = try CheckpointManifest(run: 3, step: 12, epoch: 1, roles: published, in: folder)
/// try manifest.write(in: folder)
/// ```
public struct CheckpointManifest: Codable, Equatable, Sendable {
    /// One file of the checkpoint.
    public struct File: Codable, Equatable, Sendable {
        /// Its name inside the run folder.
        public var name: String
        public var size: Int64
        public var sha256: String

        /// Hashes the file `name` in `folder`.
        public init(name: String, in folder: URL) throws {
            self.name = name
            let digest = try FileDigest.of(folder.appendingPathComponent(name))
            sha256 = digest.sha256
            size = digest.size
        }
    }

    /// The format of this file.
    public var format = 1
    /// The run that wrote it.
    public var run: RunID
    /// Optimizer steps done at this checkpoint.
    public var step: Int
    /// Epochs fully done at this checkpoint.
    public var epoch: Int
    public var weights: File
    public var optimizer: File
    /// The names published for this checkpoint, by role (`checkpoint.last`: `last.safetensors`).
    public var published: [String: String]

    /// Describes the step files of `step` already written in `folder` (hashing them).
    public init(run: RunID, step: Int, epoch: Int, published: [String: String], in folder: URL) throws {
        self.run = run
        self.step = step
        self.epoch = epoch
        self.weights = try File(name: Self.weightsName(step: step), in: folder)
        self.optimizer = try File(name: Self.optimizerName(step: step), in: folder)
        self.published = published
    }

    /// `step-00000012`: the stem of step 12's files.
    public static func stem(step: Int) -> String { String(format: "step-%08d", step) }
    public static func weightsName(step: Int) -> String { stem(step: step) + ".safetensors" }
    public static func optimizerName(step: Int) -> String { stem(step: step) + ".optim.safetensors" }
    public static func manifestName(step: Int) -> String { stem(step: step) + ".manifest.json" }

    /// The step of a step file's name (`step-00000012.optim.safetensors` → 12), or nil.
    public static func step(ofFileNamed name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5).prefix { $0.isNumber }
        guard digits.count == 8, name.dropFirst(5 + 8).first == "." else { return nil }
        return Int(digits)
    }

    /// Writes the manifest atomically: from this moment the checkpoint is committed.
    public func write(in folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.write(
            try encoder.encode(self), to: folder.appendingPathComponent(Self.manifestName(step: step)).path)
    }

    /// Reads a manifest file.
    public static func read(_ url: URL) throws -> CheckpointManifest {
        do {
            return try JSONDecoder().decode(CheckpointManifest.self, from: Data(contentsOf: url))
        } catch {
            throw InputError(file: url.path, problem: "not a readable checkpoint manifest (\(error))")
        }
    }

    /// Why this checkpoint cannot be used by run `run` (a file missing, of another size or
    /// other bytes, another run's), or nil when both files are exactly as committed.
    public func problem(in folder: URL, run expected: RunID) -> String? {
        if run != expected { return "its manifest is of run \(run), not run \(expected)" }
        for file in [weights, optimizer] {
            let url = folder.appendingPathComponent(file.name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                let size = (attributes[.size] as? NSNumber)?.int64Value
            else { return "\(file.name) is missing" }
            if size != file.size { return "\(file.name) has \(size) bytes, the manifest says \(file.size)" }
            guard let digest = try? FileDigest.of(url).sha256 else { return "\(file.name) cannot be read" }
            if digest != file.sha256 { return "\(file.name) holds other bytes than the manifest says" }
        }
        return nil
    }
}

/// What a run folder holds of checkpoints, as a kill may have left it.
///
/// ```swift
/// let scan = RunFolderScan(folder: registry.outputDirectory(ofRun: 3), run: 3)
/// if let newest = scan.newestComplete { print("resume from step", newest.step) }
/// ```
public struct RunFolderScan {
    /// A manifest that was found but cannot be used, and why.
    public struct Rejected: Equatable {
        public var step: Int
        public var problem: String
    }

    public let folder: URL
    /// Complete, verified checkpoints, newest step first.
    public private(set) var complete: [CheckpointManifest] = []
    /// Manifests that are unreadable or whose files do not match, newest step first.
    public private(set) var rejected: [Rejected] = []
    /// Every file name in the folder.
    public let names: [String]

    /// Reads every manifest in `folder` and verifies its files (hashing them) for run `run`.
    public init(folder: URL, run: RunID) {
        self.folder = folder
        names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        let manifests = names.filter {
            $0.hasSuffix(".manifest.json") && CheckpointManifest.step(ofFileNamed: $0) != nil
        }
        for name in manifests.sorted(by: >) {
            let step = CheckpointManifest.step(ofFileNamed: name) ?? 0
            do {
                let manifest = try CheckpointManifest.read(folder.appendingPathComponent(name))
                if let problem = manifest.problem(in: folder, run: run) {
                    rejected.append(Rejected(step: step, problem: problem))
                } else {
                    complete.append(manifest)
                }
            } catch {
                rejected.append(Rejected(step: step, problem: "\(name) is unreadable"))
            }
        }
    }

    /// The newest complete checkpoint.
    public var newestComplete: CheckpointManifest? { complete.first }

    /// Files a kill left that no complete checkpoint needs: temporary files of dead
    /// processes and step files of uncommitted or rejected checkpoints. With `keeping`,
    /// the complete checkpoints of other steps go too.
    public func leftovers(keeping kept: Set<Int>? = nil) -> [String] {
        let keep = kept ?? Set(complete.map(\.step))
        return names.filter { name in
            if DurableFile.isAbandonedTemporary(name) { return true }
            guard let step = CheckpointManifest.step(ofFileNamed: name) else { return false }
            return !keep.contains(step)
        }
    }

    /// Removes ``leftovers(keeping:)`` and returns their names.
    @discardableResult
    public func removeLeftovers(keeping kept: Set<Int>? = nil) -> [String] {
        let doomed = leftovers(keeping: kept)
        // Manifests first: a step never looks committed while its files are going.
        for name in doomed.sorted(by: { $0.hasSuffix(".manifest.json") && !$1.hasSuffix(".manifest.json") }) {
            unlink(folder.appendingPathComponent(name).path)
        }
        if !doomed.isEmpty { DurableFile.syncDirectory(of: folder.appendingPathComponent("x").path) }
        return doomed
    }
}
