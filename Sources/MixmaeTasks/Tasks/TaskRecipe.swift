import Foundation
import MixKit
import MixmaeData
import MixmaeRecipes
import MixmaeSupport

/// A recipe that passed validation: its task, its sections as typed parameters and the
/// components chosen for each model slot.
///
/// ```swift
/// let recipe = try TaskRecipe(resolved, components: catalog.componentCatalog)
/// let batch = recipe.data.int("batch_size")
/// ```
public struct TaskRecipe {
    public let resolved: ResolvedRecipe
    public let task: any TaskKind
    public let seed: UInt64
    public let sections: [RecipePath: Parameters]
    public let components: [RecipePath: ComponentChoice]
    /// The processes the run is spread over and which one this is (set by the training
    /// session from its communicator); one process by default.
    public var processes = ProcessShare(count: 1, rank: 0)
    /// The unreadable images the recipe's loaders skipped (all of them share it), limited by
    /// `data.max_unreadable`.
    public let brokenImages: BrokenImageLog

    /// Validates `resolved` completely (the schema of `tasks`, the component schemas, the
    /// sections its task reads) and throws every issue at once.
    public init(_ resolved: ResolvedRecipe, components catalog: ComponentCatalog, tasks: TaskCatalog = .standard)
        throws
    {
        let checked = tasks.check(resolved, components: catalog)
        if !checked.issues.isEmpty { throw RecipeValidationError(issues: checked.issues) }
        let root = checked.sections[.root] ?? Parameters()
        guard let task = tasks.task(named: root.string("task")) else {
            preconditionFailure("the recipe schema accepted task '\(root.string("task"))', which the catalog lacks")
        }
        self.resolved = resolved
        self.task = task
        self.seed = UInt64(root.int("seed"))
        self.sections = checked.sections
        self.components = checked.components
        var maxUnreadable = 1.0
        switch checked.sections[RecipePath([.key("data")])]?["max_unreadable"] {
        case .float(let value)?: maxUnreadable = value
        case .int(let value)?: maxUnreadable = Double(value)
        default: break
        }
        brokenImages = BrokenImageLog(maxUnreadable: maxUnreadable)
    }

    public func section(_ name: String) -> Parameters {
        sections[RecipePath([.key(name)])] ?? Parameters(defaultsOf: [])
    }

    /// `distributed`: `auto`, `none` or `mpi` (see ``CommunicatorSelection``).
    public var distributedMode: String { sections[.root]?.string("distributed") ?? "auto" }

    public var data: Parameters { section("data") }
    public var optim: Parameters { section("optim") }
    public var schedule: Parameters { section("schedule") }

    /// The component in `model.<slot>`, if the recipe fills it.
    public func component(_ slot: String) -> ComponentChoice? {
        components[RecipePath([.key("model"), .key(slot)])]
    }

    /// The component in `model.<slot>`, or an error naming the slot and what to put there.
    public func requiredComponent(_ slot: String, for purpose: String) throws -> (id: String, parameters: Parameters) {
        guard let choice = component(slot), let parameters = choice.parameters else {
            throw RecipeValidationError(issues: [
                RecipeIssue(
                    .missingKey, at: resolved.root.mark, path: RecipePath([.key("model"), .key(slot)]),
                    message: "task '\(task.name)' needs a model.\(slot) (\(purpose))")
            ])
        }
        return (choice.id, parameters)
    }

    /// Runs `body` (which builds the component in `model.<slot>`); a
    /// ``ComponentConfigurationError`` becomes a recipe error at that parameter's
    /// file:line:column (`model.backbone.window_size: ...`).
    ///
    /// ```swift
    /// let backbone = try recipe.building("backbone") { try builder.backbone(id, parameters) }
    /// ```
    public func building<T>(_ slot: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ComponentConfigurationError {
            let name = error.parameter.split(separator: "[").first.map(String.init) ?? error.parameter
            let path = RecipePath([.key("model"), .key(slot), .key(name)])
            let node = resolved.node(at: path) ?? resolved.node(at: RecipePath([.key("model"), .key(slot)]))
            throw RecipeValidationError(issues: [
                RecipeIssue(
                    .outOfRange, at: node?.mark ?? resolved.root.mark,
                    path: RecipePath([.key("model"), .key(slot), .key(error.parameter)]), message: error.problem)
            ])
        }
    }

    /// A recipe error at a key, for cross-section checks.
    public func issue(at path: RecipePath, _ message: String) -> RecipeValidationError {
        let mark = resolved.node(at: path)?.mark ?? resolved.root.mark
        return RecipeValidationError(issues: [RecipeIssue(.outOfRange, at: mark, path: path, message: message)])
    }

    /// Optimisation settings from `optim`, `schedule`, `data` and `checkpoint`.
    public var optimization: OptimizationSettings {
        let betas = optim.floatList("betas")
        return OptimizationSettings(
            epochs: schedule.int("epochs"), warmupEpochs: schedule.float("warmup_epochs"),
            batchSize: data.int("batch_size"), baseLR: optim.float("base_lr"), minLR: schedule.float("min_lr"),
            weightDecay: optim.float("weight_decay"), beta1: betas[0], beta2: betas[1], eps: optim.float("eps"),
            clipGrad: optim.float("clip_grad"), schedule: schedule.string("kind"),
            checkpointEvery: section("checkpoint").int("every"), logEvery: section("log").int("every"),
            accumulationSteps: accumulationSteps)
    }

    /// Pixel normalisation from `data.mean` and `data.std`.
    public var normalization: Normalization {
        Normalization(mean: data.floatList("mean").map { Float($0) }, std: data.floatList("std").map { Float($0) })
    }

    /// The images of the folder in `data.<key>` (`root` or `val_root`); a missing or
    /// empty folder is reported at that key.
    ///
    /// ```swift
    /// let train = try recipe.imageFolder("root")
    /// ```
    public func imageFolder(_ key: String) throws -> ImageFolder {
        do {
            return try ImageFolder(root: data.string(key))
        } catch let error as InputError {
            throw issue(at: RecipePath([.key("data"), .key(key)]), "\(error)")
        }
    }

    /// `data.crop_scale` as a range, or an error at the key when it is not `[low, high]`.
    ///
    /// ```swift
    /// let crop = RandomResizedCrop(size: 224, scale: try recipe.cropScale())
    /// ```
    public func cropScale() throws -> ClosedRange<Double> {
        let scale = data.floatList("crop_scale")
        guard scale[0] <= scale[1] else {
            throw issue(
                at: "data.crop_scale",
                "\(scale) must be [low, high] with low <= high (fractions of the image area): swap the two values")
        }
        return scale[0]...scale[1]
    }

    /// The training loader's options from `data.*`: shuffled, last partial batch
    /// dropped, seeded from the run's seed.
    public var trainingLoaderOptions: LoaderOptions {
        var options = LoaderOptions(
            batchSize: data.int("batch_size"), seed: derivedSeed(seed, 1), workers: data.int("num_workers"),
            skipBroken: data.bool("skip_broken"), normalization: normalization, broken: brokenImages)
        options.split = batchSplit
        return options
    }

    /// `optim.accum_steps`: micro-batches per process and optimizer step.
    public var accumulationSteps: Int { optim.int("accum_steps") }

    /// How a step's batch is cut into micro-batches and which of them this process loads.
    public var batchSplit: BatchSplit {
        BatchSplit(accumulation: accumulationSteps, processes: processes.count, rank: processes.rank)
    }

    /// Images in one micro-batch; `data.batch_size` must divide by `accum_steps` times
    /// the number of processes (an error at `data.batch_size` otherwise).
    ///
    /// ```swift
    /// let micro = try recipe.microBatchSize()   // 64 for batch_size 256, accum_steps 2, 2 processes
    /// ```
    public func microBatchSize() throws -> Int {
        let batch = data.int("batch_size")
        let parts = accumulationSteps * processes.count
        guard batch % parts == 0 else {
            throw issue(
                at: "data.batch_size",
                "the batch of \(batch) images is cut into optim.accum_steps (\(accumulationSteps)) x processes "
                    + "(\(processes.count)) = \(parts) equal micro-batches, which does not divide it: use a multiple "
                    + "of \(parts), or change optim.accum_steps or the number of processes")
        }
        return batch / parts
    }

    /// The validation loader's options from `data.*`: every image once, in order.
    public var evaluationLoaderOptions: LoaderOptions {
        var options = LoaderOptions.evaluation(
            batchSize: data.int("batch_size"), workers: data.int("num_workers"), skipBroken: data.bool("skip_broken"),
            normalization: normalization)
        options.broken = brokenImages
        return options
    }

    public var resizeFilter: ResizeFilter { data.string("interpolation") == "bilinear" ? .bilinear : .bicubic }
}

/// How many processes one run is spread over, and which one this is.
public struct ProcessShare: Sendable, Equatable {
    public var count: Int
    public var rank: Int

    public init(count: Int, rank: Int) {
        self.count = count
        self.rank = rank
    }
}
