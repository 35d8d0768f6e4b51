import Foundation
import MixmaeSupport

/// What `mixmae data synth` generates: how many images, how large, how many
/// shape classes, the seed, the validation share, the image format, and
/// whether label maps ignore object borders.
///
/// ```swift
/// var options = SyntheticDatasetOptions()
/// options.imageCount = 600
/// try options.validate()
/// options.trainCount   // 480
/// ```
public struct SyntheticDatasetOptions: Equatable, Sendable {
    public var imageCount = 3000
    public var imageSize = 64
    public var classCount = 6
    public var seed: UInt64 = 0
    /// Share of the images in the validation split (the last ones by index).
    public var validationFraction = 0.2
    /// The format of the images; label maps are always PNG.
    public var format = ImageFormat.png
    /// Mark pixels on object borders (anti-aliased, mixed colours) 255 in the label maps.
    public var ignoreBorders = false
    /// Sizes of the detection and segmentation images, taken in turn by image
    /// index (image i is `denseSizes[i % count]`); empty = the square `imageSize`.
    /// Classification images stay square.
    public var denseSizes: [SyntheticImageSize] = []
    /// How the classification images are drawn: the shape alone (the default)
    /// or among other shapes, as in the detection and segmentation images.
    public var classificationScenes = ClassificationScenes.single

    /// The size of detection/segmentation image `index`.
    public func denseSize(ofImage index: Int) -> SyntheticImageSize {
        denseSizes.isEmpty
            ? SyntheticImageSize(width: imageSize, height: imageSize) : denseSizes[index % denseSizes.count]
    }

    /// JPEG quality used with `format == .jpeg`.
    public static let jpegQuality = 95

    public init() {}

    /// Images in the validation split.
    public var validationCount: Int { Int((Double(imageCount) * validationFraction).rounded()) }
    /// Images in the training split.
    public var trainCount: Int { imageCount - validationCount }

    /// The class names: the first `classCount` shape kinds.
    public var classNames: [String] { ShapeKind.allCases.prefix(classCount).map(\.rawValue) }

    /// File extension of the images.
    public var imageExtension: String { format == .png ? "png" : "jpg" }

    /// Throws when an option is out of range, saying which and what would work.
    public func validate() throws {
        let maximum = ShapeKind.maximumClassCount
        guard (1...maximum).contains(classCount) else {
            throw InputError(
                keyPath: "--classes",
                problem: "must be in 1...\(maximum) (the shape kinds: "
                    + "\(ShapeKind.allCases.map(\.rawValue).joined(separator: ", "))), got \(classCount)")
        }
        guard (16...1024).contains(imageSize) else {
            throw InputError(keyPath: "--size", problem: "must be in 16...1024 pixels, got \(imageSize)")
        }
        for size in denseSizes where !(16...1024).contains(size.width) || !(16...1024).contains(size.height) {
            throw InputError(
                keyPath: "--dense-sizes", problem: "every side must be in 16...1024 pixels, got \(size)")
        }
        guard validationFraction > 0 && validationFraction < 1 else {
            throw InputError(
                keyPath: "--val-fraction", problem: "must be between 0 and 1 (exclusive), got \(validationFraction)")
        }
        guard imageCount <= 1_000_000 else {
            throw InputError(keyPath: "--images", problem: "at most 1000000 images, got \(imageCount)")
        }
        guard trainCount >= classCount && validationCount >= classCount else {
            throw InputError(
                keyPath: "--images",
                problem:
                    "\(imageCount) images with --val-fraction \(validationFraction) give \(trainCount) training and "
                    + "\(validationCount) validation images; each split needs at least one image per class "
                    + "(\(classCount)): use more images or a different fraction")
        }
    }
}

/// How `mixmae data synth` draws the classification images.
///
/// ```swift
/// ClassificationScenes(rawValue: "cluttered")?.layout   // SceneLayout.cluttered
/// ```
public enum ClassificationScenes: String, CaseIterable, Sendable, Codable {
    /// The dominant shape alone (``SceneLayout/single``), a scene of its own drawn
    /// for the classification split; the detection and segmentation images stay cluttered.
    case single
    /// The same cluttered scenes as the detection and segmentation images
    /// (``SceneLayout/cluttered``): the dominant shape among 1 to 4 others. Generator
    /// version 2 wrote only these; small models learn them slowly (near chance
    /// after the quickstart's 6 epochs).
    case cluttered

    public var layout: SceneLayout { self == .single ? .single : .cluttered }
}

/// Where `mixmae data synth` puts each format under its output folder.
///
/// ```swift
/// let layout = SyntheticDatasetLayout(root: "data/synth")
/// try ImageFolder(root: layout.classificationRoot(.train))
/// try DetectionDataset(annotationFile: layout.detectionAnnotations(.validation),
///                      imageDirectory: layout.detectionImages(.validation))
/// try SegmentationDataset(root: layout.segmentationRoot, split: layout.segmentationSplit(.train))
/// ```
public struct SyntheticDatasetLayout: Sendable {
    public enum Split: String, CaseIterable, Sendable {
        case train, validation
    }

    public let root: String

    public init(root: String) { self.root = root }

    private func path(_ components: String...) -> String {
        components.reduce(root) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// `classification/train` or `classification/val`: ImageFolder, one folder per class.
    public func classificationRoot(_ split: Split) -> String {
        path("classification", split == .train ? "train" : "val")
    }
    /// `detection/train/images` or `detection/val/images`.
    public func detectionImages(_ split: Split) -> String {
        path("detection", split == .train ? "train" : "val", "images")
    }
    /// `detection/train.json` or `detection/val.json`: COCO instances.
    public func detectionAnnotations(_ split: Split) -> String {
        path("detection", split == .train ? "train.json" : "val.json")
    }
    /// `segmentation`: ADE20K layout, `images/<split>` + `annotations/<split>`.
    public var segmentationRoot: String { path("segmentation") }
    /// ADE20K's split folder names: `training`, `validation`.
    public func segmentationSplit(_ split: Split) -> String { split == .train ? "training" : "validation" }
    /// `synth.json`: the arguments, class names and counts (written last).
    public var manifest: String { path("synth.json") }
    /// `README.md`: the layout and conventions, for people.
    public var readme: String { path("README.md") }
    /// What the generator writes at the root; `--overwrite` removes only these.
    public var ownedEntries: [String] {
        [path("classification"), path("detection"), segmentationRoot, manifest, readme]
    }
}

/// A width x height in pixels, written `WxH` (`64x48`).
public struct SyntheticImageSize: Equatable, Sendable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Parses `WxH`; nil when the text is not two positive integers around an `x`.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width > 0, height > 0 else {
            return nil
        }
        self.init(width: width, height: height)
    }

    public var description: String { "\(width)x\(height)" }
}
