import Foundation
import MixmaeSupport

/// A semantic segmentation dataset: images and single-channel PNG label maps
/// in two folders, paired by file stem (`0001.jpg` with `0001.png`).
///
/// Two layouts are found from a root: ADE20K's `images/<split>/` +
/// `annotations/<split>/` (split `training` or `validation`), and a plain
/// `images/` + `annotations/`. Label maps are read with ``ImageDecodeMode/labelMap``
/// (raw values, never scaled). With `reduceZeroLabel` (real ADE20K, where 0
/// means "other"), 0 becomes 255 (ignored) and every other value v becomes v - 1,
/// as mmsegmentation's `reduce_zero_label`.
///
/// ```swift
/// let train = try SegmentationDataset(root: "data/ADEChallengeData2016", split: "training",
///                                     reduceZeroLabel: true)
/// let labels = try train.loadLabels(at: 0)   // 1-channel Image of class indices, 255 = ignore
/// ```
public struct SegmentationDataset: Sendable {
    /// An image and its label map.
    public struct Pair: Equatable, Sendable {
        public var stem: String
        public var imagePath: String
        public var labelPath: String
    }

    public let imageDirectory: String
    public let annotationDirectory: String
    public let reduceZeroLabel: Bool
    /// The pairs, sorted by stem.
    public let pairs: [Pair]

    /// Image files are `.jpg`, `.jpeg` or `.png`; label maps `.png`.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Pairs every image in `imageDirectory` with the label map of the same stem
    /// in `annotationDirectory`; an image or a label map without its partner is an error.
    public init(imageDirectory: String, annotationDirectory: String, reduceZeroLabel: Bool = false) throws {
        self.imageDirectory = imageDirectory
        self.annotationDirectory = annotationDirectory
        self.reduceZeroLabel = reduceZeroLabel
        let images = try Self.files(in: imageDirectory, extensions: Self.imageExtensions)
        let labels = try Self.files(in: annotationDirectory, extensions: ["png"])
        let lonelyImages = images.keys.filter { labels[$0] == nil }.sorted()
        let lonelyLabels = labels.keys.filter { images[$0] == nil }.sorted()
        if !lonelyImages.isEmpty {
            throw Self.unpaired(lonelyImages.map { images[$0]! }, in: imageDirectory, missing: annotationDirectory)
        }
        if !lonelyLabels.isEmpty {
            throw Self.unpaired(lonelyLabels.map { labels[$0]! }, in: annotationDirectory, missing: imageDirectory)
        }
        guard !images.isEmpty else {
            throw InputError(file: imageDirectory, problem: "no .jpg, .jpeg or .png images in this folder")
        }
        pairs = images.keys.sorted().map { stem in
            Pair(
                stem: stem, imagePath: (imageDirectory as NSString).appendingPathComponent(images[stem]!),
                labelPath: (annotationDirectory as NSString).appendingPathComponent(labels[stem]!))
        }
    }

    /// The dataset under `root`: `images/<split>` + `annotations/<split>` when
    /// `split` is given (ADE20K: `training`, `validation`), else `images` + `annotations`.
    public init(root: String, split: String? = nil, reduceZeroLabel: Bool = false) throws {
        let root = root as NSString
        let imageDirectory = root.appendingPathComponent("images")
        let annotationDirectory = root.appendingPathComponent("annotations")
        guard let split else {
            try self.init(
                imageDirectory: imageDirectory, annotationDirectory: annotationDirectory,
                reduceZeroLabel: reduceZeroLabel)
            return
        }
        try self.init(
            imageDirectory: (imageDirectory as NSString).appendingPathComponent(split),
            annotationDirectory: (annotationDirectory as NSString).appendingPathComponent(split),
            reduceZeroLabel: reduceZeroLabel)
    }

    /// The RGB image of pair `index`.
    public func loadImage(at index: Int) throws -> Image {
        try Image(contentsOfFile: pairs[index].imagePath, mode: .rgb)
    }

    /// The label map of pair `index` (one channel; `reduceZeroLabel` applied).
    public func loadLabels(at index: Int) throws -> Image {
        var labels = try Image(contentsOfFile: pairs[index].labelPath, mode: .labelMap)
        if reduceZeroLabel {
            labels.withUnsafeMutablePixels { values in
                for i in values.indices {
                    let v = values[i]
                    values[i] = v == 0 || v == 255 ? 255 : v - 1
                }
            }
        }
        return labels
    }

    /// Image and label map of pair `index`, checked to have the same size.
    public func load(at index: Int) throws -> (image: Image, labels: Image) {
        let image = try loadImage(at: index)
        let labels = try loadLabels(at: index)
        guard image.width == labels.width, image.height == labels.height else {
            throw InputError(
                file: pairs[index].labelPath,
                problem: "is \(labels.width)x\(labels.height) but its image \(pairs[index].imagePath) is "
                    + "\(image.width)x\(image.height); a label map must have its image's size")
        }
        return (image, labels)
    }

    /// File names in `directory` with one of `extensions`, by stem.
    private static func files(in directory: String, extensions: Set<String>) throws -> [String: String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw InputError(
                file: directory,
                problem: "no such folder; a segmentation dataset is images/ + annotations/ (optionally with "
                    + "split subfolders such as training/ and validation/, as ADE20K), e.g. from "
                    + "`mixmae data synth --out DIR` (DIR/segmentation)")
        }
        var byStem = [String: String]()
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() where !name.hasPrefix(".") {
            guard extensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
            let stem = (name as NSString).deletingPathExtension
            if let other = byStem.updateValue(name, forKey: stem) {
                throw InputError(
                    file: directory, problem: "both \(other) and \(name) have the stem \(stem); keep one file per stem")
            }
        }
        return byStem
    }

    private static func unpaired(_ names: [String], in directory: String, missing other: String) -> InputError {
        let shown = names.prefix(5).joined(separator: ", ")
        let more = names.count > 5 ? " and \(names.count - 5) more" : ""
        return InputError(
            file: directory,
            problem: "\(names.count) file(s) have no partner of the same stem in \(other): \(shown)\(more)")
    }
}
