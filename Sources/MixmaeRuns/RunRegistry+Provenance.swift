import Foundation

extension RunRegistry {
    /// The file in a run's output folder that holds its resolved recipe with, after each value,
    /// a comment naming the file:line:column (or `--set`) that set it. Training writes it;
    /// the registry stores the plain text (``recipe(ofRun:)``).
    public static let recipeProvenanceFileName = "recipe-provenance.yaml"

    /// Run `id`'s resolved recipe with provenance comments, nil when the run has none (runs
    /// trained before it was written, evaluations).
    ///
    /// ```swift
    /// registry.recipeProvenance(ofRun: 12)   // "optim:\n  base_lr: 0.001  # classify.yaml:3:..."
    /// ```
    public func recipeProvenance(ofRun id: RunID) -> String? {
        let file = outputDirectory(ofRun: id).appendingPathComponent(Self.recipeProvenanceFileName)
        return try? String(contentsOf: file, encoding: .utf8)
    }
}
