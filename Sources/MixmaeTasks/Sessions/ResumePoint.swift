import Foundation
import MixKit
import MixmaeRuns
import MixmaeSupport

/// Where `train --resume` continues a run from, whatever a kill left in its folder: the
/// newest complete, verified checkpoint (by its manifest), falling back to an older one and
/// saying so; a checkpoint the registry did not record yet is recorded; leftovers of an
/// interrupted write are removed.
///
/// ```swift
/// let path = try ResumePoint.find(ofRun: 3, in: registry, log: { print($0) })  // nil: from step 0
/// ```
enum ResumePoint {
    /// The weights file to resume from, or nil when the run committed no checkpoint (it then
    /// starts again from step 0). Throws when the run's checkpoints exist but none is usable.
    static func find(ofRun id: RunID, in registry: RunRegistry, log: (String) -> Void) throws -> String? {
        let folder = registry.outputDirectory(ofRun: id)
        let scan = RunFolderScan(folder: folder, run: id)
        let newest = scan.newestComplete
        for rejected in scan.rejected where rejected.step > newest?.step ?? -1 {
            log(
                "run \(id): the checkpoint of step \(rejected.step) is not usable (\(rejected.problem)); "
                    + (newest.map { "falling back to the checkpoint of step \($0.step)" } ?? "no older one is"))
        }
        if newest == nil, let rejected = scan.rejected.first {
            throw InputError(
                file: folder.appendingPathComponent(CheckpointManifest.manifestName(step: rejected.step)).path,
                problem:
                    "run \(id) cannot continue exactly: \(scan.rejected.map { "step \($0.step): \($0.problem)" }.joined(separator: "; ")); "
                    + "restore the files and resume again (the run was not changed)")
        }
        let removed = scan.removeLeftovers()
        if !removed.isEmpty {
            log("run \(id): removed what an interrupted checkpoint write left: \(removed.joined(separator: ", "))")
        }
        guard let newest else { return try legacyCheckpoint(ofRun: id, in: registry) }
        // Publish the user-visible names again (a kill may have come before) and record them.
        for manifest in scan.complete.reversed() {
            let roles: [CheckpointCommit.Role] = manifest.published.keys.sorted().compactMap {
                switch $0 {
                case "checkpoint.last": return .last
                case "checkpoint.best": return .best
                case "checkpoint.epoch": return .epoch(manifest.epoch)
                default: return nil
                }
            }
            _ = try CheckpointCommit(folder: folder, run: id).publish(manifest, roles: roles, again: true)
        }
        let adopted = try registry.adoptCommittedCheckpoints(ofRun: id, scan: scan)
        if !adopted.isEmpty {
            log(
                "run \(id): recorded checkpoints written before the process stopped: \(adopted.joined(separator: ", "))"
            )
        }
        return folder.appendingPathComponent(newest.weights.name).path
    }

    /// A run written before checkpoints had manifests: its recorded `checkpoint.last`, if any.
    private static func legacyCheckpoint(ofRun id: RunID, in registry: RunRegistry) throws -> String? {
        let recorded: RecordedArtifact
        do {
            recorded = try registry.recordedCheckpoint(ofRun: id, role: .checkpointLast)
        } catch RegistryError.noCheckpoint {
            return nil
        }
        guard recorded.event.role == .checkpointLast else { return nil }
        let checkpoint = try registry.checkpoint(ofRun: id, role: .checkpointLast)
        let optimizerState = Checkpoint.optimizerPath(for: checkpoint.url.path)
        do {
            _ = try SafeTensorsFile(path: optimizerState)
        } catch {
            throw InputError(
                file: optimizerState,
                problem: "run \(id) cannot continue exactly without its optimizer state (\(error)); "
                    + "restore this file and resume again (the run was not changed)")
        }
        return checkpoint.url.path
    }
}
