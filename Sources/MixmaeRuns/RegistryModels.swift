import Foundation
import MixmaeSupport

/// A run's number in the registry: `run:12` in references, `runs/12/` on disk.
public typealias RunID = Int64

/// An artifact's row number. Artifacts are identified to users by their SHA-256.
public typealias ArtifactID = Int64

/// Where a run stands. Only the registry moves a run between states.
public enum RunStatus: String, Codable, CaseIterable, CustomStringConvertible {
    /// The process is (believed to be) alive and training.
    case running = "RUNNING"
    /// It finished normally.
    case finished = "FINISHED"
    /// It stopped on an error, which the run records.
    case failed = "FAILED"
    /// It stopped on SIGINT/SIGTERM after finishing its step and writing a checkpoint.
    case killed = "KILLED"
    /// Its process vanished without saying so (SIGKILL, power loss, out of memory).
    case crashed = "CRASHED"

    public var description: String { rawValue }

    /// Parses `finished`, `FINISHED`, ... (case-insensitive).
    public init?(parsing text: String) {
        self.init(rawValue: text.uppercased())
    }

    /// True for the statuses of runs that ended without finishing.
    public var isUnsuccessfulEnd: Bool { self == .failed || self == .killed || self == .crashed }
}

/// How a run ended, as the training engine reports it to ``ActiveRun/finish(_:)``.
public enum RunOutcome {
    /// Training completed.
    case finished
    /// Training stopped on an error; its description is stored with the run.
    case failed(String)
    /// A signal asked the run to stop; the step was finished and a checkpoint written.
    case killed(signal: Int32)

    var status: RunStatus {
        switch self {
        case .finished: return .finished
        case .failed: return .failed
        case .killed: return .killed
        }
    }

    var errorText: String? {
        switch self {
        case .finished: return nil
        case .failed(let message): return message
        case .killed(let signal): return "stopped by \(signalName(signal))"
        }
    }
}

/// The name of a signal number, `SIGINT` style, for messages.
package func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGINT: return "SIGINT"
    case SIGTERM: return "SIGTERM"
    case SIGKILL: return "SIGKILL"
    case SIGHUP: return "SIGHUP"
    default: return "signal \(signal)"
    }
}

/// The fully resolved recipe a run was started from, and its hash.
public struct RecipeSnapshot: Codable, Equatable {
    /// The resolved recipe text, exactly as it will be stored and re-run.
    public let text: String
    /// Its SHA-256 in lowercase hex.
    public let sha256: String

    /// A snapshot with a hash the recipe layer computed.
    public init(text: String, sha256: String) {
        self.text = text
        self.sha256 = sha256.lowercased()
    }

    /// A snapshot hashed here: the SHA-256 of the text's UTF-8 bytes.
    public init(text: String) {
        self.init(text: text, sha256: SHA256.hex(of: Array(text.utf8)))
    }
}

/// A plugin library a run loaded, pinned by the hash of the library file.
public struct PluginRecord: Codable, Equatable {
    /// The component id (`swin`, `vit-decoder`).
    public let id: String
    /// The plugin's declared version.
    public let version: String
    /// The shared library it came from.
    public let libraryPath: String
    /// SHA-256 of the library file.
    public let librarySHA256: String

    public init(id: String, version: String, libraryPath: String, librarySHA256: String) {
        self.id = id
        self.version = version
        self.libraryPath = libraryPath
        self.librarySHA256 = librarySHA256
    }

    /// A record for the library at `library`, hashing it.
    ///
    /// ```swift
    /// let swin = try PluginRecord(id: "swin", version: "1.0.0", hashingLibraryAt: url)
    /// ```
    public init(id: String, version: String, hashingLibraryAt library: URL) throws {
        let (digest, _) = try FileDigest.of(library)
        self.init(
            id: id, version: version, libraryPath: library.standardizedFileURL.path,
            librarySHA256: digest)
    }
}

/// One run as the registry knows it (without its recipe text; see
/// ``RunRegistry/recipe(ofRun:)``).
public struct RunRecord: Codable, Equatable {
    public let id: RunID
    /// The task: `pretrain`, `classify`, `eval`, ...
    public let task: String
    public let status: RunStatus
    /// SHA-256 of the resolved recipe.
    public let recipeSHA256: String
    public let seed: UInt64?
    /// The host and process of the current attempt.
    public let host: String
    public let pid: Int32
    /// When the first attempt started.
    public let startedAt: Date
    /// When the run ended (for CRASHED: its last heartbeat); nil while running.
    public let endedAt: Date?
    /// The last sign of life of the current attempt.
    public let heartbeatAt: Date
    /// The error for FAILED, the signal for KILLED, what vanished for CRASHED.
    public let error: String?
    /// The current attempt: 1 for a run never resumed.
    public let attempt: Int
    /// The run this one re-runs, if any.
    public let parentRunID: RunID?
}

/// One attempt of a run: the first start, then one per `--resume`.
public struct RunAttempt: Codable, Equatable {
    public let attempt: Int
    public let host: String
    public let pid: Int32
    public let startedAt: Date
    public let endedAt: Date?
    public let status: RunStatus
    public let error: String?
}

/// A name from an open set (artifact kinds, roles): written as a string
/// literal or `Name("x")`, stored and encoded as the bare string.
public protocol OpenName: RawRepresentable, Codable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral
where RawValue == String {
    init(rawValue: String)
}

extension OpenName {
    public init(_ rawValue: String) { self.init(rawValue: rawValue) }
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
}

/// What kind of file an artifact is. Open set: make your own with `ArtifactKind("export")`.
public struct ArtifactKind: OpenName {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Model weights written by a run.
    public static let checkpoint = ArtifactKind("checkpoint")
    /// Optimizer state saved next to a checkpoint.
    public static let optimizerState = ArtifactKind("optimizer-state")
    /// A dataset or dataset index.
    public static let dataset = ArtifactKind("dataset")
    /// A file from outside the registry (e.g. downloaded weights), first seen when used.
    public static let external = ArtifactKind("external")
}

/// Why a run used or produced an artifact. Open set: `ArtifactRole("init.neck")`.
public struct ArtifactRole: OpenName {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Initial backbone weights of a finetune.
    public static let initBackbone = ArtifactRole("init.backbone")
    /// Initial weights of the whole model.
    public static let initModel = ArtifactRole("init.model")
    /// The most recent checkpoint (what `run:ID` resolves to).
    public static let checkpointLast = ArtifactRole("checkpoint.last")
    /// The best checkpoint by the recipe's metric (what `run:ID:best` resolves to).
    public static let checkpointBest = ArtifactRole("checkpoint.best")
    /// A periodic checkpoint kept for one epoch.
    public static let checkpointEpoch = ArtifactRole("checkpoint.epoch")
    /// Optimizer state saved with a checkpoint.
    public static let optimizerState = ArtifactRole("optimizer.state")
    /// Training data.
    public static let trainData = ArtifactRole("data.train")
    /// The checkpoint an evaluation run (`mixmae eval RECIPE --checkpoint REF`) measured.
    public static let evalCheckpoint = ArtifactRole("eval.checkpoint")
}

/// A file known by its content: the same bytes are one artifact wherever they live.
public struct Artifact: Codable, Equatable {
    public let id: ArtifactID
    /// SHA-256 of the content, lowercase hex.
    public let sha256: String
    /// Size in bytes.
    public let size: Int64
    /// The last place the file was seen.
    public let path: String
    public let kind: ArtifactKind
    /// The first run that produced it; nil for external files.
    public let producingRunID: RunID?
    public let createdAt: Date
    /// When `mixmae runs gc --delete` removed the file, if it did.
    public let removedAt: Date?

    /// The first 12 hex digits, for tables and trees.
    public var shortHash: String { String(sha256.prefix(12)) }
}

/// Whether a run read an artifact or wrote it.
public enum EventDirection: String, Codable {
    case used
    case produced
}

/// A run used or produced an artifact, in a role, at a path.
public struct ArtifactEvent: Codable, Equatable {
    public let runID: RunID
    public let artifactID: ArtifactID
    public let direction: EventDirection
    public let role: ArtifactRole
    /// Where the file was when it was used or produced.
    public let path: String
    /// The training step (or epoch) the event belongs to, if the run gave one.
    public let step: Int64?
    public let time: Date
}

/// One metric value at one step. NaN is stored and read back as NaN.
public struct MetricSample: Codable, Equatable {
    public let step: Int64
    public let name: String
    public let value: Double
    public let time: Date

    public init(step: Int64, name: String, value: Double, time: Date = Date()) {
        self.step = step
        self.name = name
        self.value = value
        self.time = time
    }

    public static func == (lhs: MetricSample, rhs: MetricSample) -> Bool {
        lhs.step == rhs.step && lhs.name == rhs.name && lhs.time == rhs.time
            && (lhs.value == rhs.value || (lhs.value.isNaN && rhs.value.isNaN))
    }
}

/// Which direction of a metric is better.
public enum MetricGoal: String, Codable {
    case minimize
    case maximize
    /// Neither (a learning rate, a throughput figure): no "best" is shown.
    case none

    /// The goal guessed from a metric's name: losses and errors are minimised, learning
    /// rates and timings have no best, anything else (accuracy, mAP, mIoU) is maximised.
    public static func inferred(from name: String) -> MetricGoal {
        let lower = name.lowercased()
        let lastComponent =
            lower.split(whereSeparator: { "./:".contains($0) }).last.map(String.init)
            ?? lower
        if ["lr", "learning_rate", "epoch", "step", "images_per_second", "time", "seconds"]
            .contains(lastComponent)
        {
            return .none
        }
        for word in ["loss", "error", "err", "mse", "nll", "perplexity"]
        where lastComponent.contains(word) {
            return .minimize
        }
        return .maximize
    }
}

/// A metric's last value and best value over a run.
public struct MetricSummary: Codable, Equatable {
    public struct Point: Codable, Equatable {
        public let step: Int64
        public let value: Double

        public init(step: Int64, value: Double) {
            self.step = step
            self.value = value
        }
    }
    public let name: String
    /// How many values were logged.
    public let count: Int
    /// The value at the highest step (the latest logged wins a tie).
    public let last: Point
    /// The best value by ``goal``; nil when the goal is `.none`.
    public let best: Point?
    public let goal: MetricGoal
}
