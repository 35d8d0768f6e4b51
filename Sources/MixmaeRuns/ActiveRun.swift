import Foundation

/// The handle a training process holds for the run it owns: it reports metrics, files and
/// the outcome, and keeps the run's heartbeat fresh in the background.
///
/// Get one from ``RunRegistry/beginRun(task:recipe:seed:plugins:tags:rerunOf:)`` or
/// ``RunRegistry/resumeRun(_:)``. Every call is one short write transaction; several
/// processes may report at once. End the run with ``finish(_:)``; a process that dies
/// without finishing is marked CRASHED by the next registry access.
///
/// ```swift
/// let run = try registry.beginRun(task: "pretrain", recipe: snapshot, seed: 0)
/// try ShutdownRequest.install()
/// for step in 1...totalSteps {
///     let loss = try trainStep()
///     try run.log(step: Int64(step), ["loss": loss, "lr": lr])
///     if ShutdownRequest.isRequested || step == totalSteps {
///         try writeCheckpoint(lastURL)
///         try run.recordProduced(fileAt: lastURL, role: .checkpointLast, step: Int64(step))
///         if ShutdownRequest.isRequested {
///             try run.finish(.killed(signal: ShutdownRequest.signal ?? SIGINT))
///             return
///         }
///     }
/// }
/// try run.finish(.finished)
/// ```
public final class ActiveRun {
    /// The run's id (`run:ID`).
    public let id: RunID
    /// This process's attempt: 1 for a new run, more after `--resume`.
    public let attempt: Int
    /// `MIXMAE_HOME/runs/<id>/`, created already: write checkpoints and logs here.
    public let outputDirectory: URL
    /// The registry the run lives in.
    public let registry: RunRegistry

    private let timerQueue = DispatchQueue(label: "mixmae.registry.heartbeat")
    private var heartbeatTimer: DispatchSourceTimer?
    private var reportedHeartbeatFailure = false

    init(registry: RunRegistry, id: RunID, attempt: Int) {
        self.registry = registry
        self.id = id
        self.attempt = attempt
        self.outputDirectory = registry.outputDirectory(ofRun: id)
        startHeartbeat(every: registry.options.heartbeatInterval)
    }

    deinit {
        heartbeatTimer?.cancel()
    }

    /// Records a sign of life now. The background timer calls it every
    /// ``RunRegistry/Options/heartbeatInterval`` seconds; call it yourself when the timer
    /// is off. Throws ``RegistryError/runNotOwned(run:attempt:status:currentAttempt:)`` when
    /// the run was resumed or ended elsewhere.
    public func heartbeat() throws {
        try registry.heartbeat(run: id, attempt: attempt)
    }

    /// Stores a batch of metric values in one transaction.
    ///
    /// ```swift
    /// try run.log([MetricSample(step: 100, name: "loss", value: 0.71)])
    /// ```
    public func log(_ samples: [MetricSample]) throws {
        try registry.log(run: id, metrics: samples)
    }

    /// Stores several metrics of one step: `try run.log(step: 100, ["loss": 0.71, "lr": 3e-4])`.
    public func log(step: Int64, _ values: [String: Double]) throws {
        let now = Date()
        try log(
            values.sorted { $0.key < $1.key }.map {
                MetricSample(step: step, name: $0.key, value: $0.value, time: now)
            })
    }

    /// Hashes a file this run wrote (streaming SHA-256) and records it as produced in `role`.
    ///
    /// Write the file completely first (temp file, fsync, rename). Identical bytes are one
    /// artifact wherever they are; recording them again updates the known location.
    ///
    /// ```swift
    /// try run.recordProduced(fileAt: best, role: .checkpointBest, step: epoch)
    /// ```
    @discardableResult
    public func recordProduced(
        fileAt url: URL, kind: ArtifactKind = .checkpoint, role: ArtifactRole, step: Int64? = nil
    ) throws -> Artifact {
        try registry.recordProduced(run: id, fileAt: url, kind: kind, role: role, step: step)
    }

    /// Resolves a weights reference (`run:ID`, `run:ID:best`, `sha256:PREFIX` or a path),
    /// verifies the file's hash, and records that this run used it in `role`. Load the
    /// weights from the returned URL.
    ///
    /// ```swift
    /// let initial = try run.use(try WeightsReference(parsing: "run:12"), role: .initBackbone)
    /// ```
    @discardableResult
    public func use(_ reference: WeightsReference, role: ArtifactRole) throws -> ResolvedWeights {
        let resolved = try registry.resolveWeights(reference)
        try recordUsed(resolved.artifact, role: role, path: resolved.url.path)
        return resolved
    }

    /// Records that this run used an artifact already resolved (for example a dataset index
    /// registered with ``RunRegistry/registerFile(at:kind:)``).
    public func recordUsed(_ artifact: Artifact, role: ArtifactRole, path: String? = nil) throws {
        try registry.recordUsed(run: id, artifact: artifact, role: role, path: path ?? artifact.path)
    }

    /// Sets (or replaces) a free-form tag.
    public func setTag(_ key: String, _ value: String) throws {
        try registry.setTag(run: id, key: key, value: value)
    }

    /// Ends the run: FINISHED, FAILED with the error text, or KILLED by a signal. Stops the
    /// background heartbeat.
    ///
    /// ```swift
    /// do { try train() ; try run.finish(.finished) }
    /// catch { try? run.finish(.failed("\(error)")); throw error }
    /// ```
    public func finish(_ outcome: RunOutcome) throws {
        stopHeartbeat()
        try registry.finish(run: id, attempt: attempt, outcome: outcome)
    }

    private func startHeartbeat(every interval: TimeInterval) {
        guard interval > 0 else { return }
        let timer = DispatchSource.makeTimerSource(queue: timerQueue)
        timer.schedule(
            deadline: .now() + interval, repeating: interval, leeway: .milliseconds(Int(interval * 100)))
        timer.setEventHandler { [weak self] in self?.backgroundHeartbeat() }
        heartbeatTimer = timer
        timer.resume()
    }

    private func stopHeartbeat() {
        // The timer's handler runs on timerQueue; touching the timer there avoids a race.
        timerQueue.sync {
            heartbeatTimer?.cancel()
            heartbeatTimer = nil
        }
    }

    private func backgroundHeartbeat() {
        do {
            try heartbeat()
        } catch {
            if case RegistryError.runNotOwned = error { heartbeatTimer?.cancel() }
            if !reportedHeartbeatFailure {
                reportedHeartbeatFailure = true
                FileHandle.standardError.write(Data("warning: run \(id) heartbeat failed: \(error)\n".utf8))
            }
        }
    }
}
