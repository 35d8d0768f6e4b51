import Foundation
import MixKit
import MixmaeRuns
import MixmaeSupport

/// Writes one checkpoint as one atomic commit in a run folder:
///
/// 1. `step-S.optim.safetensors` (optimizer and trainer state, with the generators), then
///    `step-S.safetensors` (weights), each through a temporary file, fsynced and renamed;
/// 2. `step-S.manifest.json` with both files' sizes and hashes, written last and atomically:
///    the commit;
/// 3. the user-visible names published as hard links of the step files
///    (`last.optim.safetensors`, `last.safetensors`, `best.safetensors`, `epoch-NNNN.safetensors`);
/// 4. the registry records them (the caller's observer);
/// 5. step files older than the previous committed checkpoint are removed.
///
/// A kill before 2 leaves the previous commit in force; after it, resume finds this one
/// (``RunFolderScan``) and records what the registry missed.
///
/// ```swift
/// let commit = CheckpointCommit(folder: runFolder, run: 3)
/// let published = try commit.write(model: model, optimizer: adamw, state: state, roles: [.last])
/// ```
struct CheckpointCommit {
    /// What a checkpoint is published as.
    enum Role: Hashable {
        case last, best
        case epoch(Int)

        var registryRole: String {
            switch self {
            case .last: return "checkpoint.last"
            case .best: return "checkpoint.best"
            case .epoch: return "checkpoint.epoch"
            }
        }

        var fileName: String {
            switch self {
            case .last: return "last.safetensors"
            case .best: return "best.safetensors"
            case .epoch(let epoch): return String(format: "epoch-%04d.safetensors", epoch)
            }
        }
    }

    let folder: URL
    let run: RunID

    /// Writes, commits and publishes the checkpoint of `state.step`; returns the published
    /// paths with their registry roles, for the caller to record before calling ``prune(after:)``.
    func write(
        model: Module, optimizer: Optimizer, state: TrainerState, metadata: [String: String], roles: [Role]
    ) throws -> [(path: String, role: String)] {
        let step = state.step
        CrashPoint.reached("before-save", step: step)
        // Writing this step again (a stop at the end of an epoch, then the epoch's own save)
        // first withdraws its old commit, so old bytes are never vouched for by a new manifest.
        let manifestPath = folder.appendingPathComponent(CheckpointManifest.manifestName(step: step)).path
        if unlink(manifestPath) == 0 { DurableFile.syncDirectory(of: manifestPath) }
        let weights = folder.appendingPathComponent(CheckpointManifest.weightsName(step: step)).path
        try Checkpoint.save(
            model: model, optimizer: optimizer, state: state, metadata: metadata, to: weights,
            afterOptimizer: { CrashPoint.reached("after-optim-rename", step: step) })
        CrashPoint.reached("after-weights-rename", step: step)
        let published = Dictionary(roles.map { ($0.registryRole, $0.fileName) }, uniquingKeysWith: { a, _ in a })
        let manifest = try CheckpointManifest(
            run: run, step: step, epoch: state.epoch, published: published, in: folder)
        try manifest.write(in: folder)
        CrashPoint.reached("after-manifest", step: step)
        return try publish(manifest, roles: roles)
    }

    /// Publishes the user-visible names of a committed checkpoint; `again` after a kill (resume
    /// passes no crash points).
    func publish(_ manifest: CheckpointManifest, roles: [Role], again: Bool = false) throws -> [(
        path: String, role: String
    )] {
        var written: [(path: String, role: String)] = []
        for role in roles {
            let target = folder.appendingPathComponent(role.fileName).path
            if role == .last {
                try DurableFile.publish(
                    folder.appendingPathComponent(manifest.optimizer.name).path,
                    as: Checkpoint.optimizerPath(for: target))
                if !again { CrashPoint.reached("after-publish-optim", step: manifest.step) }
            }
            try DurableFile.publish(folder.appendingPathComponent(manifest.weights.name).path, as: target)
            written.append((target, role.registryRole))
        }
        if !again { CrashPoint.reached("after-publish", step: manifest.step) }
        return written
    }

    /// Removes the step files of every checkpoint but `step` and the newest committed one
    /// before it (the fallback), and the temporary files of dead processes.
    func prune(after step: Int) {
        CrashPoint.reached("after-record", step: step)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let committed = names.filter { $0.hasSuffix(".manifest.json") }.compactMap {
            CheckpointManifest.step(ofFileNamed: $0)
        }
        let previous = committed.filter { $0 < step }.max()
        let keep = Set([step] + (previous.map { [$0] } ?? []))
        let doomed = names.filter { name in
            if DurableFile.isAbandonedTemporary(name) { return true }
            guard let fileStep = CheckpointManifest.step(ofFileNamed: name) else { return false }
            return !keep.contains(fileStep)
        }
        for name in doomed.sorted(by: { $0.hasSuffix(".manifest.json") && !$1.hasSuffix(".manifest.json") }) {
            unlink(folder.appendingPathComponent(name).path)
        }
    }
}
