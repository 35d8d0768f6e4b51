import ArgumentParser
import Foundation
import MixmaeData
import MixmaeSupport

/// `mixmae data synth --out DIR [--images N --size S --classes K --seed X --val-fraction F --format png|jpeg]`
struct DataSynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Generate a synthetic shapes dataset for classification, detection and segmentation.",
        discussion: """
            Writes scenes of textured shapes on textured backgrounds into DIR in three layouts: \
            classification/{train,val}/<class>/ (ImageFolder, label = the dominant shape; by default one \
            shape per image, --classification-scenes cluttered for the detection scenes), \
            detection/{train,val}.json + images (COCO instances) and segmentation/{images,annotations}/\
            {training,validation}/ (ADE20K; label maps 0 = background, 1..K = shapes, 255 = ignore). \
            DIR/README.md describes the conventions, DIR/synth.json records the arguments. The same \
            arguments give the same bytes; running again on a finished DIR with the same arguments does nothing.
            """
    )

    @Option(name: .customLong("out"), help: "Output folder (created if missing).")
    var directory: String

    @Option(help: "Number of images (training and validation together).")
    var images = SyntheticDatasetOptions().imageCount

    @Option(help: "Image side, in pixels (16...1024).")
    var size = SyntheticDatasetOptions().imageSize

    @Option(
        help: ArgumentHelp(
            "Number of shape classes (1...\(ShapeKind.maximumClassCount)): the first K of "
                + "\(ShapeKind.allCases.map(\.rawValue).joined(separator: ", ")).",
            valueName: "K"))
    var classes = SyntheticDatasetOptions().classCount

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Share of the images in the validation split.")
    var valFraction = SyntheticDatasetOptions().validationFraction

    @Option(help: "Image format: png or jpeg (label maps are always PNG).")
    var format = "png"

    @Option(
        help: ArgumentHelp(
            "Sizes of the detection and segmentation images, taken in turn by image index "
                + "(e.g. 64x48,48x80,80x64; default: square --size). Classification images stay square.",
            valueName: "WxH,..."))
    var denseSizes: String?

    @Option(
        help: ArgumentHelp(
            "Classification images: single (one shape on a textured background, the default) or cluttered "
                + "(the detection scenes: the shape among 1 to 4 others; generator version 2's only kind, hard for "
                + "small models at short budgets).",
            valueName: "single|cluttered"))
    var classificationScenes = "single"

    @Flag(help: "Mark object borders 255 (ignore) in the label maps.")
    var ignoreBorders = false

    @Flag(help: "Replace what an earlier `data synth` wrote in DIR.")
    var overwrite = false

    @Option(help: "Threads (default: all cores). The output does not depend on it.")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    var options: SyntheticDatasetOptions {
        var options = SyntheticDatasetOptions()
        options.imageCount = images
        options.imageSize = size
        options.classCount = classes
        options.seed = seed
        options.validationFraction = valFraction
        options.format = ImageFormat(pathExtension: format) ?? .png
        options.ignoreBorders = ignoreBorders
        options.classificationScenes = ClassificationScenes(rawValue: classificationScenes) ?? .single
        options.denseSizes =
            denseSizes.map { $0.split(separator: ",").compactMap { SyntheticImageSize(parsing: String($0)) } } ?? []
        return options
    }

    func validate() throws {
        guard ImageFormat(pathExtension: format) != nil else {
            throw ValidationError("--format must be png or jpeg, got '\(format)'")
        }
        guard ClassificationScenes(rawValue: classificationScenes) != nil else {
            throw ValidationError(
                "--classification-scenes must be single or cluttered, got '\(classificationScenes)'")
        }
        if let denseSizes {
            for text in denseSizes.split(separator: ",", omittingEmptySubsequences: false)
            where SyntheticImageSize(parsing: String(text)) == nil {
                throw ValidationError(
                    "--dense-sizes: '\(text)' is not WxH (such as 64x48); give sizes separated by commas")
            }
        }
        guard workers > 0 else { throw ValidationError("--workers must be positive, got \(workers)") }
        do {
            try options.validate()
        } catch let error as InputError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let options = self.options
        let generator = SyntheticDatasetGenerator(options: options, workers: workers)
        let layout = SyntheticDatasetLayout(root: directory)
        if generator.isGenerated(in: directory) {
            FileHandle.standardError.write(
                Data("\(layout.manifest) already records these arguments; nothing to do\n".utf8))
            printLayout(layout)
            return
        }
        let progress = ProgressReporter(total: options.imageCount, label: "synth", plainInterval: 2)
        progress.message(
            "generating \(options.imageCount) images of \(options.imageSize)x\(options.imageSize), "
                + "\(options.classCount) classes (\(options.classNames.joined(separator: ", "))), seed \(options.seed), "
                + "into \(directory) on \(workers) threads")
        let box = ReporterBox(progress)
        let start = Date()
        let summary = try generator.generate(into: directory, overwrite: overwrite) { done, total in
            box.reporter.update(done: done, fields: [:], force: done == total)
        }
        progress.finish()
        progress.message(
            "wrote \(summary.trainCount) training and \(summary.validationCount) validation images, "
                + "\(summary.objectCount) objects (\(summary.crowdCount) crowd) in "
                + String(format: "%.1f", Date().timeIntervalSince(start)) + "s")
        printLayout(layout)
    }

    private func printLayout(_ layout: SyntheticDatasetLayout) {
        print(
            """
            classification: \(layout.classificationRoot(.train))  \(layout.classificationRoot(.validation))
            detection:      \(layout.detectionAnnotations(.train)) + \(layout.detectionImages(.train))
                            \(layout.detectionAnnotations(.validation)) + \(layout.detectionImages(.validation))
            segmentation:   \(layout.segmentationRoot) (images/, annotations/ with training/, validation/; \
            --num-classes \(classes + 1))
            """)
    }

    /// Hands the reporter to the generator's threads, which call it one at a time.
    private final class ReporterBox: @unchecked Sendable {
        let reporter: ProgressReporter
        init(_ reporter: ProgressReporter) { self.reporter = reporter }
    }
}
