import Foundation
import MixmaePluginHost
import MixmaeRecipes
import MixmaeRuns
import MixmaeSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A sweep could not run, or did not finish.
public struct SweepError: UserFacingError {
    public var what: String
    public var hint: String?
    public var exitCode: Int32 = ExitStatus.failure

    public init(what: String, hint: String? = nil, exitCode: Int32 = ExitStatus.failure) {
        self.what = what
        self.hint = hint
        self.exitCode = exitCode
    }
}

/// Runs a ``SweepSpec``: every grid point as a normal `mixmae train` in a child
/// process (up to `jobs` at once), tagged with the sweep, its point and stage;
/// a second stage per point once the first finished, with `{parent}` filled in.
///
/// Run again with the same spec, it skips the stages that finished, resumes the
/// killed or crashed ones (`train --resume`, the same run id) and starts the failed
/// and missing ones again. SIGINT or SIGTERM stops it cleanly: no new stage
/// starts, each running child is asked once to stop at its next step boundary
/// (its run is saved and KILLED), and ``run()`` returns with ``Outcome/signal`` set.
///
/// ```swift
/// let runner = SweepRunner(spec: spec, registry: registry, catalog: catalog, options: options)
/// try runner.validate()                     // every point's recipes, before anything runs
/// let outcome = try runner.run()
/// ```
public final class SweepRunner {
    public struct Options {
        /// The `mixmae` executable the children run.
        public var executable: String
        /// The plugin registry file the children load.
        public var pluginRegistry: String
        /// Stages run at once.
        public var jobs: Int
        /// Progress lines.
        public var log: (String) -> Void

        public init(executable: String, pluginRegistry: String, jobs: Int, log: @escaping (String) -> Void) {
            self.executable = executable
            self.pluginRegistry = pluginRegistry
            self.jobs = jobs
            self.log = log
        }
    }

    /// What a sweep run did.
    public struct Outcome {
        public var sweep: Int64
        /// Points (label) and stages whose child failed.
        public var failures: [String]
        /// The signal that stopped the sweep, if one did.
        public var signal: Int32?
    }

    public let spec: SweepSpec
    public let registry: RunRegistry
    public let catalog: PluginCatalog
    public let options: Options

    public init(spec: SweepSpec, registry: RunRegistry, catalog: PluginCatalog, options: Options) {
        self.spec = spec
        self.registry = registry
        self.catalog = catalog
        self.options = options
    }

    /// Loads and checks every point's recipe (and the second stage's, `{parent}`
    /// standing for run 1) against the plugins, so a typo in a grid key or value
    /// stops the sweep before anything runs. A mistake names its point.
    public func validate() throws {
        for point in spec.points {
            try check(point, stage: 1, recipe: spec.recipe, overrides: spec.overrides + point.overrides)
            if let then = spec.then {
                let filled = then.overrides.map { SweepSpec.fill($0, parent: "run:1", point: point) }
                try check(point, stage: 2, recipe: then.recipe, overrides: filled)
            }
        }
    }

    private func check(_ point: SweepSpec.Point, stage: Int, recipe: String, overrides: [String]) throws {
        do {
            let resolved = try RecipeLoader().load(recipe, overrides: try RecipeOverride.parse(overrides))
            _ = try TaskRecipe(resolved, components: catalog.componentCatalog)
        } catch {
            options.log("sweep point \(point.index) (\(point.label)), stage \(stage) (\(recipe)):")
            throw error
        }
    }

    private struct Job {
        var point: SweepSpec.Point
        var stage: Int
        var process: SpawnedProcess?
    }

    /// Runs the sweep's missing stages; see the type's documentation.
    public func run() throws -> Outcome {
        let (sweep, created) = try registry.sweep(for: spec)
        let logs = registry.home.appendingPathComponent("sweeps/\(sweep.id)", isDirectory: true)
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let points = spec.points
        options.log(
            "sweep \(sweep.id): \(points.count) points x \(spec.stageCount) stage\(spec.stageCount == 1 ? "" : "s")"
                + (created ? "" : " (resuming)") + ", \(max(1, options.jobs)) at once; child logs in \(logs.path)/")
        try ShutdownRequest.install()
        defer { ShutdownRequest.uninstall() }

        var queue = points.map { Job(point: $0, stage: 1) }
        var active: [Job] = []
        var failures: [String] = []
        var forwarded = false
        while true {
            if ShutdownRequest.isRequested && !forwarded {
                forwarded = true
                queue.removeAll()
                let signal = ShutdownRequest.signal ?? SIGINT
                options.log(
                    "sweep \(sweep.id): stopping; asking \(active.count) running stage(s) to stop at a step boundary")
                for job in active { job.process?.send(signal) }
            }
            while !forwarded && active.count < max(1, options.jobs), !queue.isEmpty {
                var job = queue.removeFirst()
                guard let started = try start(job, sweep: sweep.id, logs: logs) else {
                    if job.stage == 1 && spec.then != nil && isFinished(job, sweep: sweep.id) {
                        queue.insert(Job(point: job.point, stage: 2), at: 0)
                    }
                    continue
                }
                job.process = started
                active.append(job)
            }
            if active.isEmpty { break }
            usleep(100_000)
            var stillRunning: [Job] = []
            for job in active {
                guard let ending = job.process?.poll() else {
                    stillRunning.append(job)
                    continue
                }
                let member = try newest(job, sweep: sweep.id)
                let run = member.map { "run \($0.run.id) \($0.run.status.rawValue)" } ?? "no run registered"
                options.log(
                    "sweep \(sweep.id) point \(job.point.index)/\(points.count) stage \(job.stage) (\(job.point.label)): "
                        + "\(run), exit \(ending.status)")
                if ending == .exited(0) {
                    if job.stage == 1 && spec.then != nil && !forwarded {
                        queue.insert(Job(point: job.point, stage: 2), at: 0)
                    }
                } else if !forwarded {
                    failures.append(
                        "point \(job.point.index) (\(job.point.label)) stage \(job.stage): \(run), exit \(ending.status); "
                            + "see \(logs.path)/\(logName(job))")
                }
            }
            active = stillRunning
        }
        return Outcome(
            sweep: sweep.id, failures: failures, signal: forwarded ? (ShutdownRequest.signal ?? SIGINT) : nil)
    }

    private func logName(_ job: Job) -> String { "point-\(job.point.index)-stage-\(job.stage).log" }

    private func newest(_ job: Job, sweep: Int64) throws -> SweepMember? {
        try registry.members(ofSweep: sweep).last { $0.point == job.point.index && $0.stage == job.stage }
    }

    private func isFinished(_ job: Job, sweep: Int64) -> Bool {
        (try? newest(job, sweep: sweep))?.run.status == .finished
    }

    /// Starts what the stage needs, or returns nil when it needs nothing (finished,
    /// running elsewhere) or cannot run yet (its first stage did not finish).
    private func start(_ job: Job, sweep: Int64, logs: URL) throws -> SpawnedProcess? {
        let label = "sweep \(sweep) point \(job.point.index) stage \(job.stage) (\(job.point.label))"
        let common = ["--home", registry.home.path, "--registry", options.pluginRegistry]
        var arguments: [String]
        switch try newest(job, sweep: sweep)?.run.status {
        case .finished?:
            options.log("\(label): finished before, skipped")
            return nil
        case .running?:
            options.log("\(label): running in another process, skipped")
            return nil
        case .killed?, .crashed?:
            let id = try newest(job, sweep: sweep)!.run.id
            options.log("\(label): resuming run \(id)")
            arguments = ["train", "--resume", String(id)] + common
        case .failed?, nil:
            let tags = [
                "\(SweepTags.sweep)=\(sweep)", "\(SweepTags.point)=\(job.point.index)",
                "\(SweepTags.stage)=\(job.stage)",
            ].flatMap { ["--tag", $0] }
            if job.stage == 1 {
                arguments = ["train", spec.recipe] + (spec.overrides + job.point.overrides).flatMap { ["--set", $0] }
            } else {
                guard let then = spec.then,
                    let parent = try registry.members(ofSweep: sweep).last(where: {
                        $0.point == job.point.index && $0.stage == 1 && $0.run.status == .finished
                    })
                else { return nil }
                let filled = then.overrides.map { SweepSpec.fill($0, parent: "run:\(parent.run.id)", point: job.point) }
                arguments = ["train", then.recipe] + filled.flatMap { ["--set", $0] }
            }
            arguments += tags + common
            options.log("\(label): starting")
        }
        return try SpawnedProcess(options.executable, arguments, log: logs.appendingPathComponent(logName(job)).path)
    }
}
