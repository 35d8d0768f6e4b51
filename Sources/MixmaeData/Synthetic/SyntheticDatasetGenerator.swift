import Foundation
import MixmaeSupport

/// What a generation did.
public struct SyntheticDatasetSummary: Equatable, Sendable {
    public var trainCount: Int
    public var validationCount: Int
    /// Annotated objects (crowd ones included) over both splits.
    public var objectCount: Int
    public var crowdCount: Int
    /// True when the folder already held this dataset and nothing was written.
    public var upToDate: Bool
}

/// Writes a synthetic dataset of shape scenes in the classification (ImageFolder),
/// detection (COCO instances) and segmentation (ADE20K) layouts, on several
/// threads; the bytes depend only on the options, not on the thread count.
///
/// The same image appears in all three layouts (hard links where the file
/// system allows, else copies). `synth.json` is written last, so a folder
/// with it is complete; generating again with the same options into such a
/// folder does nothing.
///
/// ```swift
/// var options = SyntheticDatasetOptions()
/// options.imageCount = 600
/// let summary = try SyntheticDatasetGenerator(options: options, workers: 2)
///     .generate(into: "data/synth") { done, total in print("\(done)/\(total)") }
/// ```
public struct SyntheticDatasetGenerator: Sendable {
    public let options: SyntheticDatasetOptions
    public let workers: Int

    /// Bumped whenever the same options would produce different files.
    public static let version = 3

    public init(options: SyntheticDatasetOptions, workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.options = options
        self.workers = max(1, workers)
    }

    /// Generates the dataset under `directory`. A folder that is not empty and
    /// holds no dataset with these options is an error unless `overwrite`, which
    /// removes what a previous generation wrote (and nothing else) first.
    /// `progress` is called with (images done, total), one call at a time.
    @discardableResult
    public func generate(
        into directory: String, overwrite: Bool = false, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> SyntheticDatasetSummary {
        try options.validate()
        let layout = SyntheticDatasetLayout(root: directory)
        if let existing = existingManifest(in: directory) {
            return SyntheticDatasetSummary(
                trainCount: existing.splits.train, validationCount: existing.splits.val, objectCount: existing.objects,
                crowdCount: existing.crowd, upToDate: true)
        }
        try prepare(layout, overwrite: overwrite)
        let records = try renderAll(layout, progress: progress)
        for split in SyntheticDatasetLayout.Split.allCases {
            let indices = split == .train ? 0..<options.trainCount : options.trainCount..<options.imageCount
            try COCOInstancesWriter.write(
                records[indices], options: options, to: layout.detectionAnnotations(split))
        }
        let annotations = records.flatMap(\.annotations)
        let summary = SyntheticDatasetSummary(
            trainCount: options.trainCount, validationCount: options.validationCount,
            objectCount: annotations.count, crowdCount: annotations.filter(\.isCrowd).count, upToDate: false)
        try FileBytes.writeAtomically(Array(SyntheticReadme.text(options, summary).utf8), to: layout.readme)
        try FileBytes.writeAtomically(SyntheticManifest(options, summary).encoded(), to: layout.manifest)
        return summary
    }

    /// Whether `directory` already holds a complete dataset made with these options.
    public func isGenerated(in directory: String) -> Bool { existingManifest(in: directory) != nil }

    private func existingManifest(in directory: String) -> SyntheticManifest? {
        guard let manifest = try? SyntheticManifest.read(SyntheticDatasetLayout(root: directory).manifest),
            manifest.matches(options)
        else { return nil }
        return manifest
    }

    /// What is kept of each image once its files are written.
    struct Record: Sendable {
        var index: Int
        var annotations: [SyntheticAnnotation]
        var denseSize: SyntheticImageSize
    }

    private func prepare(_ layout: SyntheticDatasetLayout, overwrite: Bool) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: layout.root, isDirectory: &isDirectory) && !isDirectory.boolValue {
            throw InputError(file: layout.root, problem: "is a file; --out must name a folder (new or empty)")
        }
        let entries = (try? fm.contentsOfDirectory(atPath: layout.root)) ?? []
        if !entries.isEmpty {
            guard overwrite else {
                let previous = try? SyntheticManifest.read(layout.manifest)
                let what =
                    previous.map {
                        $0.version == Self.version
                            ? "a synthetic dataset with other options"
                            : "a synthetic dataset of generator version \($0.version) (this mixmae writes version "
                                + "\(Self.version))"
                    } ?? (fm.fileExists(atPath: layout.manifest) ? "a synthetic dataset with other options" : "files")
                throw InputError(
                    file: layout.root,
                    problem: "already holds \(what) (\(entries.sorted().prefix(3).joined(separator: ", "))...); "
                        + "pass --overwrite to replace what `mixmae data synth` wrote there, or choose an empty folder")
            }
            for entry in layout.ownedEntries where entries.contains((entry as NSString).lastPathComponent) {
                try fm.removeItem(atPath: entry)
            }
        }
        var folders = [String]()
        for split in SyntheticDatasetLayout.Split.allCases {
            folders += options.classNames.map {
                (layout.classificationRoot(split) as NSString).appendingPathComponent($0)
            }
            folders.append(layout.detectionImages(split))
            for kind in ["images", "annotations"] {
                folders.append(
                    ((layout.segmentationRoot as NSString).appendingPathComponent(kind) as NSString)
                        .appendingPathComponent(layout.segmentationSplit(split)))
            }
        }
        do {
            for folder in folders { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        } catch {
            throw InputError(
                file: layout.root,
                problem: "cannot create the dataset folders (\(error.localizedDescription)); check that the "
                    + "parent folder exists and is writable")
        }
    }

    /// Renders and writes every image on `workers` threads; the records in index order.
    private func renderAll(_ layout: SyntheticDatasetLayout, progress: @escaping @Sendable (Int, Int) -> Void) throws
        -> [Record]
    {
        final class State: @unchecked Sendable {
            let lock = NSLock()
            var next = 0
            var done = 0
            var records: [Record?]
            var failure: Error?
            init(count: Int) { records = Array(repeating: nil, count: count) }
        }
        let total = options.imageCount
        let state = State(count: total)
        DispatchQueue.concurrentPerform(iterations: min(workers, total)) { _ in
            while true {
                state.lock.lock()
                let index = state.next
                state.next += 1
                let stop = state.failure != nil || index >= total
                state.lock.unlock()
                if stop { return }
                do {
                    let record = try write(SyntheticSample(index: index, options: options), layout: layout)
                    state.lock.lock()
                    state.records[index] = record
                    state.done += 1
                    progress(state.done, total)
                    state.lock.unlock()
                } catch {
                    state.lock.lock()
                    if state.failure == nil { state.failure = error }
                    state.lock.unlock()
                }
            }
        }
        if let failure = state.failure { throw failure }
        return state.records.map { $0! }
    }

    /// Writes one image in the three layouts and its label map.
    private func write(_ sample: SyntheticSample, layout: SyntheticDatasetLayout) throws -> Record {
        let split: SyntheticDatasetLayout.Split = sample.index < options.trainCount ? .train : .validation
        let stem = Self.stem(sample.index)
        let name = stem + "." + options.imageExtension
        let className = options.classNames[sample.dominantClass]
        let segmentation = layout.segmentationRoot as NSString
        let segmentationSplit = layout.segmentationSplit(split)
        let paths = [
            ((layout.classificationRoot(split) as NSString).appendingPathComponent(className) as NSString)
                .appendingPathComponent(name),
            (layout.detectionImages(split) as NSString).appendingPathComponent(name),
            ((segmentation.appendingPathComponent("images") as NSString).appendingPathComponent(segmentationSplit)
                as NSString).appendingPathComponent(name),
        ]
        let encode = { (image: Image) in
            try image.encoded(as: options.format, quality: SyntheticDatasetOptions.jpegQuality)
        }
        // The same picture is written once and linked (copied where links fail) to its other paths.
        let classificationBytes = try encode(sample.classificationImage)
        try FileBytes.writeAtomically(classificationBytes, to: paths[0])
        let shared = options.denseSizes.isEmpty && options.classificationScenes == .cluttered
        let denseBytes = shared ? classificationBytes : try encode(sample.denseImage)
        if !shared { try FileBytes.writeAtomically(denseBytes, to: paths[1]) }
        let source = shared ? paths[0] : paths[1]
        for path in paths.dropFirst(shared ? 1 : 2) where link(source, path) != 0 {
            try FileBytes.writeAtomically(denseBytes, to: path)
        }
        let labelPath =
            ((segmentation.appendingPathComponent("annotations") as NSString).appendingPathComponent(segmentationSplit)
            as NSString).appendingPathComponent(stem + ".png")
        try sample.denseLabelMap.write(toFile: labelPath, format: .png)
        return Record(
            index: sample.index, annotations: sample.denseAnnotations,
            denseSize: options.denseSize(ofImage: sample.index))
    }

    /// The file stem of image `index`: six digits, zero-padded.
    public static func stem(_ index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
