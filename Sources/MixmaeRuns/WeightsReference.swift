import Foundation

/// Where a recipe's initial weights come from, as a user writes it.
///
/// | Text                 | Meaning                                                   |
/// |----------------------|-----------------------------------------------------------|
/// | `run:12`             | run 12's last checkpoint (`checkpoint.last`)               |
/// | `run:12:best`        | run 12's best checkpoint (`checkpoint.best`)               |
/// | `sha256:3fa9c1`      | the artifact whose hash starts with these digits (unique)  |
/// | `path/to/w.safetensors` | a file: matched by content if known, else registered as external |
///
/// ```swift
/// let reference = try WeightsReference(parsing: "run:12:best")
/// let weights = try registry.resolveWeights(reference)   // verified file URL + artifact
/// ```
public enum WeightsReference: Equatable, CustomStringConvertible {
    /// Which of a run's checkpoints.
    public enum Checkpoint: String, Equatable {
        case last
        case best

        /// The event role this choice resolves through.
        public var role: ArtifactRole { self == .last ? .checkpointLast : .checkpointBest }
    }

    case run(RunID, Checkpoint)
    case sha256Prefix(String)
    case file(URL)

    /// Parses a reference. Relative paths are taken from `base` (default: the current
    /// directory); `~` is expanded.
    public init(parsing text: String, relativeTo base: URL? = nil) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw RegistryError.badReference(text, reason: "it is empty")
        }
        if trimmed.hasPrefix("run:") {
            let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3, let id = RunID(parts[1]), id > 0 else {
                throw RegistryError.badReference(
                    text, reason: "write run:ID or run:ID:best with a numeric run id")
            }
            var choice = Checkpoint.last
            if parts.count == 3 {
                guard let parsed = Checkpoint(rawValue: String(parts[2])) else {
                    throw RegistryError.badReference(
                        text, reason: "'\(parts[2])' is not a checkpoint choice; use last or best")
                }
                choice = parsed
            }
            self = .run(id, choice)
        } else if trimmed.hasPrefix("sha256:") {
            self = .sha256Prefix(try Self.hexPrefix(String(trimmed.dropFirst(7)), in: text))
        } else {
            let expanded = (trimmed as NSString).expandingTildeInPath
            let directory = base ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            self = .file(URL(fileURLWithPath: expanded, relativeTo: directory).standardizedFileURL)
        }
    }

    /// Checks and lower-cases a hash prefix.
    static func hexPrefix(_ digits: String, in text: String) throws -> String {
        let lower = digits.lowercased()
        guard !lower.isEmpty, lower.count <= 64, lower.allSatisfy({ $0.isHexDigit }) else {
            throw RegistryError.badReference(
                text, reason: "a sha256 prefix is 1 to 64 hexadecimal digits")
        }
        return lower
    }

    public var description: String {
        switch self {
        case .run(let id, .last): return "run:\(id)"
        case .run(let id, .best): return "run:\(id):best"
        case .sha256Prefix(let prefix): return "sha256:\(prefix)"
        case .file(let url): return url.path
        }
    }
}

/// A weights reference resolved to a file whose hash matches the registry.
public struct ResolvedWeights: Equatable {
    /// What the user wrote.
    public let reference: WeightsReference
    /// The artifact, identified by content.
    public let artifact: Artifact
    /// Where the verified file is now.
    public let url: URL
}
