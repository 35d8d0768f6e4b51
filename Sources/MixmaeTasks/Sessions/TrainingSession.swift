import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeRecipes
import MixmaeRuns
import MixmaeSupport

/// One `mixmae train`: validates the recipe against the plugins, registers
/// the run, resolves and records the initial weights, builds the task, runs
/// the loop with the registry observing, and marks the run FINISHED, FAILED
/// or KILLED. `--resume` continues a run under its own id from its last
/// checkpoint with the recipe stored at its start.
///
/// ```swift
/// let session = TrainingSession(catalog: try PluginCatalog.shared(), registry: try RunRegistry())
/// let result = try session.start(try RecipeLoader().load("recipes/quickstart/pretrain.yaml"))
/// print(result.runID, result.summary.finalMetrics)
/// ```
public final class TrainingSession {
    public let catalog: PluginCatalog
    public let registry: RunRegistry
    /// Stop as if interrupted once this many steps are done (for tests of resuming).
    public var stopAfterSteps: Int?
    /// Print lines (initial weights, where files go) here.
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// What runs after the run's outcome is recorded (FINISHED, FAILED or KILLED): nothing
    /// by default; the command line adds `RunEndHooks.standard` (curves into `runs/<id>/curves/`).
    public var endHooks = RunEndHooks(hooks: [])
    /// The processes of the run; nil: chosen from the recipe's `distributed` and the
    /// environment (``CommunicatorSelection``) when a run starts.
    public var communicator: Communicator?
    /// Tags a new run gets when it is registered (`train --tag`; `mixmae sweep` ties its runs to it so).
    public var runTags: [String: String] = [:]

    public init(catalog: PluginCatalog, registry: RunRegistry) {
        self.catalog = catalog
        self.registry = registry
    }

    /// What a finished run left.
    public struct Result {
        public var runID: RunID
        public var task: any TaskKind
        public var directory: URL
        public var summary: TrainingLoop.Summary
    }

    /// Trains a new run from a resolved recipe; `rerunOf` links it to an earlier run.
    ///
    /// The recipe is validated, the initial weights resolved and the model and
    /// data built before the run is registered, so a mistake in the recipe
    /// leaves no FAILED run behind.
    public func start(_ resolved: ResolvedRecipe, rerunOf: RunID? = nil) throws -> Result {
        var recipe = try TaskRecipe(resolved, components: catalog.componentCatalog)
        let comm = try chooseCommunicator(recipe)
        recipe.processes = ProcessShare(count: comm.size, rank: comm.rank)
        let isRoot = comm.rank == 0
        let (recipeChecked, builder, task, data, run):
            (TaskRecipe, ComponentBuilder, TrainingTask, BatchSource, ActiveRun?) =
                try together(comm) {
                    _ = try recipe.microBatchSize()
                    // Rank 0 resolves init.weights through its registry; the loop broadcasts the weights.
                    let initial = isRoot ? try initialWeights(recipe) : nil
                    let builder = ComponentBuilder(provider: catalog, rng: RandomSource(seed: recipe.seed))
                    let (task, data, tags) = try makeTask(recipe, builder: builder, initialWeights: initial?.url.path)
                    guard isRoot else { return (recipe, builder, task, data, nil) }
                    let run = try registry.beginRun(
                        task: recipe.task.name,
                        recipe: RecipeSnapshot(text: resolved.yaml(provenance: false), sha256: resolved.hash),
                        seed: recipe.seed, plugins: try catalog.pluginRecords(for: recipe), rerunOf: rerunOf)
                    for (key, value) in tags.merging(runTags, uniquingKeysWith: { $1 }).sorted(by: { $0.key < $1.key })
                    {
                        try run.setTag(key, value)
                    }
                    log("run \(run.id): \(recipe.task.name), outputs in \(run.outputDirectory.path)")
                    // Where each value was set (file:line), for `mixmae ui`; the registry keeps the plain text.
                    try? resolved.yaml(provenance: true).write(
                        to: run.outputDirectory.appendingPathComponent(RunRegistry.recipeProvenanceFileName),
                        atomically: true, encoding: .utf8)
                    if let initial {
                        try run.recordUsed(initial.artifact, role: .initBackbone, path: initial.url.path)
                        log(
                            "run \(run.id): backbone initialised from \(initial.reference) (sha256 \(initial.artifact.sha256.prefix(12)))"
                        )
                    }
                    return (recipe, builder, task, data, run)
                }
        return try execute(
            recipeChecked, task: task, data: data, modelRandom: builder.rng, run: run, resume: nil, communicator: comm)
    }

    /// The session's communicator, or the one the recipe and the environment ask for.
    private func chooseCommunicator(_ recipe: TaskRecipe) throws -> Communicator {
        if let communicator { return communicator }
        let chosen = try CommunicatorSelection.choose(mode: recipe.distributedMode, catalog: catalog)
        communicator = chosen
        return chosen
    }

    /// Runs `body` on every rank; when it throws on any rank, every rank throws:
    /// the error itself when every rank failed the same way, else ``RankFailure``
    /// with each failing rank's message.
    private func together<T>(_ comm: Communicator, _ body: () throws -> T) throws -> T {
        guard comm.size > 1 else { return try body() }
        let outcome: Swift.Result<T, Error>
        do { outcome = .success(try body()) } catch { outcome = .failure(error) }
        var message = ""
        if case .failure(let error) = outcome { message = (error as? UserFacingError)?.report ?? "\(error)" }
        let messages = try comm.allgather(bytes: Array(message.utf8)).map { String(decoding: $0, as: UTF8.self) }
        let failures = messages.enumerated().filter { !$0.element.isEmpty }
        if failures.isEmpty { return try outcome.get() }
        if failures.count == comm.size && Set(messages).count == 1, case .failure(let error) = outcome {
            throw SharedFailure(error: error, rank: comm.rank)
        }
        throw RankFailure(failures: failures.map { (rank: $0.offset, message: $0.element) })
    }

    /// Continues run `id` from its newest complete checkpoint (``ResumePoint``), as a new
    /// attempt under the same id; a run that committed none starts again from step 0.
    ///
    /// Over several processes, rank 0 reads the registry and the run folder and sends the
    /// stored recipe and the checkpoint's path to the others, which read the checkpoint's
    /// trainer and optimizer state from that path (a folder every host sees, as on a
    /// cluster's shared file system); the weights come from rank 0.
    public func resume(_ id: RunID) throws -> Result {
        let comm = try communicator ?? CommunicatorSelection.choose(mode: "auto", catalog: catalog)
        communicator = comm
        let isRoot = comm.rank == 0
        let shared: (recipe: String, checkpoint: String) = try together(comm) {
            guard isRoot else { return ("", "") }
            let stored = try registry.recipe(ofRun: id)
            let checkpoint = try ResumePoint.find(ofRun: id, in: registry, log: log)
            return (stored.text, checkpoint ?? "")
        }
        let recipeText = String(decoding: try comm.broadcast(bytes: Array(shared.recipe.utf8), root: 0), as: UTF8.self)
        let sharedCheckpoint = String(
            decoding: try comm.broadcast(bytes: Array(shared.checkpoint.utf8), root: 0), as: UTF8.self)
        let checkpoint = sharedCheckpoint.isEmpty ? nil : sharedCheckpoint
        let (recipe, builder, task, data, run): (TaskRecipe, ComponentBuilder, TrainingTask, BatchSource, ActiveRun?) =
            try together(comm) {
                let resolved = try RecipeLoader().load(text: recipeText, as: "run \(id) recipe")
                var recipe = try TaskRecipe(resolved, components: catalog.componentCatalog)
                recipe.processes = ProcessShare(count: comm.size, rank: comm.rank)
                _ = try recipe.microBatchSize()
                // The model is built as at the start; the loop then restores its generator from the
                // checkpoint. A run killed before its first checkpoint starts again from its initial
                // weights, which rank 0 reads and the loop broadcasts.
                let builder = ComponentBuilder(provider: catalog, rng: RandomSource(seed: recipe.seed))
                let initial = isRoot && checkpoint == nil ? try initialWeights(recipe) : nil
                let (task, data, _) = try makeTask(recipe, builder: builder, initialWeights: initial?.url.path)
                guard isRoot else { return (recipe, builder, task, data, nil) }
                let run = try registry.resumeRun(id)
                if let checkpoint {
                    log("run \(id): resuming (attempt \(run.attempt)) from \(checkpoint)")
                } else {
                    log(
                        "run \(id): no checkpoint was committed before it stopped; starting it again from step 0 (attempt \(run.attempt))"
                    )
                }
                return (recipe, builder, task, data, run)
            }
        return try execute(
            recipe, task: task, data: data, modelRandom: builder.rng, run: run, resume: checkpoint, communicator: comm)
    }

    /// Rank 0's run (or the only process's): records, checkpoints and evaluates; other ranks ``follow``.
    private func execute(
        _ recipe: TaskRecipe, task: TrainingTask, data: BatchSource, modelRandom: RandomSource, run: ActiveRun?,
        resume: String?, communicator comm: Communicator
    ) throws -> Result {
        guard let run else {
            return try follow(recipe, task: task, data: data, modelRandom: modelRandom, resume: resume, comm: comm)
        }
        let observer = RegistryTrainingObserver(run: run)
        do {
            try ShutdownRequest.install()
            try recipe.resolved.yaml(provenance: true).write(
                to: run.outputDirectory.appendingPathComponent("recipe.yaml"), atomically: true, encoding: .utf8)
            try recordProcesses(of: run, comm)
            task.attach(runDirectory: run.outputDirectory.path)
            let microBatches = recipe.accumulationSteps * comm.size
            let gflopsPerStep = countCompute(
                task, data: data, microBatchesPerStep: microBatches, observer: observer, run: run.id)
            let loop = TrainingLoop(
                task: task, data: data, settings: recipe.optimization, checkpointDirectory: run.outputDirectory.path,
                modelRandom: modelRandom)
            loop.communicator = comm
            loop.observer = observer
            let stopAfter = stopAfterSteps
            loop.shouldStop = { step in ShutdownRequest.isRequested || stopAfter.map { step >= $0 } ?? false }
            loop.label = "\(recipe.task.name) run \(run.id)"
            loop.checkpointMetadata = ["mixmae.task": recipe.task.name, "mixmae.run": String(run.id)]
            loop.checkpointRun = run.id
            _ = try comm.broadcast(bytes: Array(String(run.id).utf8), root: 0)
            let summary = try loop.run(resume: resume)
            let unreadable = try unreadableImages(recipe.brokenImages, over: comm)
            if let gflopsPerStep {
                observer.record(
                    metrics: [Self.computeMetric: gflopsPerStep * Double(summary.steps) / 1000], step: summary.steps)
            }
            recordUnreadable(unreadable, run: run)
            try end(run, .finished)
            return Result(runID: run.id, task: recipe.task, directory: run.outputDirectory, summary: summary)
        } catch TrainingStop.interrupted(let checkpoint) {
            let signal = ShutdownRequest.signal ?? SIGINT
            // Every rank stopped at the same step and gathers the lists with rank 0.
            recordUnreadable(
                (try? unreadableImages(recipe.brokenImages, over: comm)) ?? recipe.brokenImages.unreadable, run: run)
            try? end(run, .killed(signal: signal))
            throw TrainingInterrupted(runID: run.id, checkpoint: checkpoint, signal: signal)
        } catch {
            recordUnreadable(recipe.brokenImages.unreadable, run: run)
            try? end(run, .failed("\(error)"))
            throw error
        }
    }

    /// A rank other than 0: trains its share, writes nothing and records nothing
    /// (rank 0 does). Its errors reach rank 0 through the loop's agreement.
    private func follow(
        _ recipe: TaskRecipe, task: TrainingTask, data: BatchSource, modelRandom: RandomSource, resume: String?,
        comm: Communicator
    ) throws -> Result {
        try ShutdownRequest.install()
        // The same collectives as rank 0's execute: the host names, then the run id.
        _ = try comm.allgather(bytes: Array(comm.hostName.utf8))
        let runText = String(decoding: try comm.broadcast(bytes: [], root: 0), as: UTF8.self)
        let runID = RunID(runText) ?? 0
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mixmae-rank-\(comm.rank)-\(getpid())")
        let loop = TrainingLoop(
            task: task, data: data, settings: recipe.optimization, checkpointDirectory: scratch.path,
            modelRandom: modelRandom)
        loop.communicator = comm
        let stopAfter = stopAfterSteps
        loop.shouldStop = { step in ShutdownRequest.isRequested || stopAfter.map { step >= $0 } ?? false }
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            let summary = try loop.run(resume: resume)
            _ = try unreadableImages(recipe.brokenImages, over: comm)
            return Result(runID: runID, task: recipe.task, directory: scratch, summary: summary)
        } catch TrainingStop.interrupted(let checkpoint) {
            _ = try? unreadableImages(recipe.brokenImages, over: comm)
            throw TrainingInterrupted(runID: runID, checkpoint: checkpoint, signal: ShutdownRequest.signal ?? SIGINT)
        }
    }

    /// Tags the run with its processes: world size, hosts, launcher, MPI library.
    private func recordProcesses(of run: ActiveRun, _ comm: Communicator) throws {
        let hosts = try comm.allgather(bytes: Array(comm.hostName.utf8)).map { String(decoding: $0, as: UTF8.self) }
        var seen: [String] = []
        for host in hosts where !seen.contains(host) { seen.append(host) }
        try run.setTag("processes.world_size", String(comm.size))
        try run.setTag("processes.hosts", seen.joined(separator: ","))
        try run.setTag("processes.launcher", comm.launcher)
        try run.setTag("processes.library", comm.libraryVersion)
        if comm.size > 1 {
            log("run \(run.id): \(comm.size) processes on \(seen.joined(separator: ", ")) (\(comm.libraryVersion))")
        }
    }

    /// The metric holding a step's GEMM work, in GFLOPs (``ComputeCount``).
    public static let gflopsMetric = "gflops"
    /// The metric holding the run's cumulative GEMM work, in TFLOPs, at the end of an attempt.
    public static let computeMetric = "compute_tflops"

    /// Counts one step's GFLOPs on the first training micro-batch, times the
    /// `microBatchesPerStep` of the whole job (accumulation steps x processes: GEMM work
    /// grows linearly with the images), and records them as the metric `gflops` at step 0.
    /// The task's generator, the model's mode and its gradients are left as they were, so
    /// the run trains exactly as without the count; a count that fails is reported and
    /// skipped, never fatal, and data that cannot be read is left for the loop to report.
    /// With `MIXMAE_PROFILE=1` the count runs inside the profile's warm-up (discarded at the
    /// first step's update), so the table at exit is of the training steps alone.
    private func countCompute(
        _ task: TrainingTask, data: BatchSource, microBatchesPerStep: Int, observer: TrainingObserver, run: RunID
    ) -> Double? {
        let generator = task.generatorState
        defer {
            task.generatorState = generator
            task.model.train(true)
            task.model.zeroGrad()
        }
        // Data the loader cannot read is the loop's to report, with its own error.
        guard let batch = try? data.batches(epoch: 0, skip: 0).next() else { return nil }
        do {
            task.model.train(false)
            let count = try ComputeCount.trainingStep(of: task, on: batch).scaled(by: microBatchesPerStep)
            let gflops = count.step / 1e9
            observer.record(metrics: [Self.gflopsMetric: gflops], step: 0)
            log(
                "run \(run): "
                    + String(
                        format: "%.3f GFLOPs per step (%.4f per image forward)", gflops,
                        count.forwardPerImage / 1e9))
            return gflops
        } catch {
            log("run \(run): the compute count was skipped (\(error))")
            return nil
        }
    }

    /// The unreadable images every rank skipped, in rank order, each once (every rank
    /// loads its own micro-batches, so rank 0's list alone misses the others').
    private func unreadableImages(_ log: BrokenImageLog, over comm: Communicator) throws
        -> [(path: String, reason: String)]
    {
        guard comm.size > 1 else { return log.unreadable }
        // Paths hold no NUL; the separators keep reasons with line breaks whole.
        let mine = log.unreadable.map { "\($0.path)\u{1F}\($0.reason)" }.joined(separator: "\u{0}")
        var seen = Set<String>()
        return try comm.allgather(bytes: Array(mine.utf8)).flatMap { bytes in
            String(decoding: bytes, as: UTF8.self).split(separator: "\u{0}").compactMap { entry in
                let parts = entry.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, seen.insert(String(parts[0])).inserted else { return nil }
                return (path: String(parts[0]), reason: String(parts[1]))
            }
        }
    }

    /// Lists the skipped unreadable images in `runs/<id>/unreadable.txt` (path and reason per
    /// line) and counts them in the tag `data.unreadable`.
    private func recordUnreadable(_ files: [(path: String, reason: String)], run: ActiveRun) {
        guard !files.isEmpty else { return }
        let list = run.outputDirectory.appendingPathComponent("unreadable.txt")
        let text = files.map { "\($0.path)\t\($0.reason)" }.joined(separator: "\n") + "\n"
        try? DurableFile.write(Data(text.utf8), to: list.path)
        try? run.setTag("data.unreadable", String(files.count))
        self.log("run \(run.id): \(files.count) unreadable image(s) were skipped; the list is in \(list.path)")
    }

    /// Records the outcome, then runs the end hooks (curves).
    private func end(_ run: ActiveRun, _ outcome: RunOutcome) throws {
        try run.finish(outcome)
        endHooks.run(after: run.id, registry: registry, log: log)
    }

    /// The verified file of `init.weights`, if the recipe names one. A relative path
    /// is taken from the recipe's folder; mistakes are reported at the key.
    private func initialWeights(_ recipe: TaskRecipe) throws -> ResolvedWeights? {
        guard recipe.task.readsInitialWeights else { return nil }
        let text = recipe.section("init").string("weights")
        guard !text.isEmpty else { return nil }
        let base =
            recipe.resolved.path.hasPrefix("run ")
            ? nil : URL(fileURLWithPath: (recipe.resolved.path as NSString).deletingLastPathComponent)
        do {
            let reference = try WeightsReference(parsing: text, relativeTo: base)
            if case .file(let url) = reference {
                var isFolder: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
                if !exists || isFolder.boolValue {
                    let relative =
                        (text as NSString).expandingTildeInPath.hasPrefix("/")
                        ? "" : " ('\(text)' is taken relative to the recipe's folder \(base?.path ?? "."))"
                    throw recipe.issue(
                        at: "init.weights",
                        "\(url.path) \(exists ? "is a folder" : "does not exist")\(relative); give the path of a "
                            + "checkpoint file (.safetensors, or PyTorch .pth/.pt/.bin), run:ID, run:ID:best or sha256:PREFIX"
                    )
                }
                var status = stat()
                if stat(url.path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
                    throw recipe.issue(
                        at: "init.weights",
                        "\(url.path) is not a regular file (a device, FIFO or socket); give the path of a "
                            + "checkpoint file (.safetensors or .pth)")
                }
            }
            let key = recipe.section("init").string("key")
            return try registry.resolveWeightsImporting(reference, key: key.isEmpty ? nil : key, log: log)
        } catch let error as RegistryError {
            throw recipe.issue(at: "init.weights", "\(error)")
        } catch let error as FileDigestError {
            throw recipe.issue(at: "init.weights", error.what)
        }
    }

    /// Builds the task with `builder` (the model's generator); its run folder is attached once the run exists.
    private func makeTask(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> (TrainingTask, BatchSource, [String: String])
    {
        let prepared = try recipe.task.makeTraining(recipe, builder: builder, initialWeights: initialWeights)
        prepared.notes.forEach(log)
        return (prepared.task, prepared.data, prepared.tags)
    }
}

extension PluginCatalog {
    /// The plugins `recipe` uses, with their library hashes, for the run registry.
    func pluginRecords(for recipe: TaskRecipe) throws -> [PluginRecord] {
        try recipe.components.values.sorted { $0.id < $1.id }.compactMap { choice in
            guard let component = component(choice.id) else { return nil }
            return try PluginRecord(
                id: component.id, version: component.version,
                hashingLibraryAt: URL(fileURLWithPath: component.library))
        }
    }
}

/// A run stopped by SIGINT or SIGTERM (or `--stop-after-steps`) after finishing its step
/// and saving: it is KILLED in the registry and continues with `train --resume`. The
/// process exits with 128 + the signal (130, 143), as shells report an interrupted program.
public struct TrainingInterrupted: UserFacingError {
    public var runID: RunID
    /// The checkpoint written on the way out.
    public var checkpoint: String
    public var signal: Int32

    public var what: String {
        "run \(runID) stopped by \(signalName(signal)): the current step finished and the run was saved to \(checkpoint)"
    }

    public var hint: String? { "continue with --resume (`mixmae train --resume run:\(runID)`)" }
    public var exitCode: Int32 { ExitStatus.interrupted(by: signal) }
}

/// Every rank failed with the same error (a recipe mistake, a missing file): rank 0
/// reports it once; the other ranks stay quiet.
public struct SharedFailure: UserFacingError {
    public var error: Error
    public var rank: Int

    public var what: String { (error as? UserFacingError)?.what ?? "\(error)" }
    public var location: ErrorLocation? { (error as? UserFacingError)?.location }
    public var hint: String? { (error as? UserFacingError)?.hint }
    public var details: [String] { (error as? UserFacingError)?.details ?? [] }
    public var exitCode: Int32 { (error as? UserFacingError)?.exitCode ?? ExitStatus.failure }
}
