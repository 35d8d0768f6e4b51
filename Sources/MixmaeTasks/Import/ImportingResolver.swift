import Foundation
import MixKit
import MixmaeRuns

extension RunRegistry {
    /// ``resolveWeights(_:)`` for weights a task loads: a PyTorch checkpoint (named by
    /// path, hash or run) is first imported (``CheckpointImport/reusingEarlier(source:key:)``:
    /// once per file and key) and the imported safetensors is what comes back, so the run
    /// that uses it hangs below the import in `lineage`. `key` chooses the state dict in a
    /// PyTorch file; `log` hears about an import.
    ///
    /// ```swift
    /// let weights = try registry.resolveWeightsImporting(try WeightsReference(parsing: "mixmim_base.pth"))
    /// print(weights.url.path)   // runs/7/mixmim_base.safetensors
    /// ```
    public func resolveWeightsImporting(
        _ reference: WeightsReference, key: String? = nil, log: (String) -> Void = { _ in }
    ) throws -> ResolvedWeights {
        if case .file(let url) = reference, FileManager.default.fileExists(atPath: url.path),
            CheckpointImport.isPyTorchFile(url.path)
        {
            return try imported(url, key: key, log: log)
        }
        let resolved = try resolveWeights(reference)
        guard CheckpointImport.isPyTorchFile(resolved.url.path) else { return resolved }
        return try imported(resolved.url, key: key, log: log)
    }

    private func imported(_ source: URL, key: String?, log: (String) -> Void) throws -> ResolvedWeights {
        let result = try CheckpointImport(registry: self).reusingEarlier(source: source, key: key)
        log(
            (result.reused ? "using the import of " : "imported ")
                + "\(source.path) (sha256 \(result.sourceSHA256.prefix(12))) as \(result.output) (run \(result.runID))")
        return try resolveWeights(.file(URL(fileURLWithPath: result.output)))
    }
}
