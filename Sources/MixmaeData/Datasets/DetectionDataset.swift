import Foundation
import MixmaeSupport

/// An axis-aligned box by its corners in continuous pixel coordinates: a box
/// covering pixel columns 0 through 9 has `x1 = 0`, `x2 = 10`.
///
/// ```swift
/// let box = DetectionBox(coco: COCOBox(x: 10, y: 5, width: 20, height: 20))
/// box.x2  // 30
/// ```
public struct DetectionBox: Equatable, Sendable {
    public var x1: Double
    public var y1: Double
    public var x2: Double
    public var y2: Double

    public init(x1: Double, y1: Double, x2: Double, y2: Double) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    /// The box of COCO's `[x, y, width, height]`.
    public init(coco box: COCOBox) {
        self.init(x1: box.x, y1: box.y, x2: box.x + box.width, y2: box.y + box.height)
    }

    public var width: Double { x2 - x1 }
    public var height: Double { y2 - y1 }

    /// The same box as COCO writes it, for results files.
    public var coco: COCOBox { COCOBox(x: x1, y: y1, width: width, height: height) }
}

/// A detection dataset: a COCO instances JSON file and the folder its
/// `file_name`s are relative to.
///
/// Categories are numbered 0..<classCount in the order of their ids (ids need
/// not be 1...N; ``classIndex(forCategoryID:)`` and ``categoryID(forClass:)``
/// map both ways). As mmdetection's `CocoDataset` does, an annotation is
/// skipped (and counted in ``skippedAnnotations``) when its box is narrower
/// or lower than 1 pixel, its `area` is not positive, or it lies entirely
/// outside its image. Crowd annotations are kept apart in ``Item/crowdBoxes``
/// (ignored in training). Images without annotations are kept.
///
/// ```swift
/// let train = try DetectionDataset(
///     annotationFile: "coco/annotations/instances_train2017.json", imageDirectory: "coco/train2017")
/// train.items[0].boxes   // [DetectionBox], x1 y1 x2 y2
/// train.items[0].labels  // [Int], 0..<train.classCount
/// ```
public struct DetectionDataset: Sendable {
    /// One image and its annotations, in the file's pixel coordinates.
    public struct Item: Equatable, Sendable {
        public var imageID: Int
        public var path: String
        /// The size the JSON states, if it does.
        public var width: Int?
        public var height: Int?
        public var boxes: [DetectionBox]
        /// Class index (0..<classCount) of each box.
        public var labels: [Int]
        /// Crowd regions: neither positives nor negatives in training.
        public var crowdBoxes: [DetectionBox]
        /// The polygons or RLE mask of each box (same order), nil where the file has none.
        public var segmentations: [COCOSegmentation?]

        public init(
            imageID: Int, path: String, width: Int?, height: Int?, boxes: [DetectionBox], labels: [Int],
            crowdBoxes: [DetectionBox], segmentations: [COCOSegmentation?]? = nil
        ) {
            self.imageID = imageID
            self.path = path
            self.width = width
            self.height = height
            self.boxes = boxes
            self.labels = labels
            self.crowdBoxes = crowdBoxes
            self.segmentations = segmentations ?? boxes.map { _ in nil }
        }
    }

    public let annotationFile: String
    public let imageDirectory: String
    /// The categories sorted by id; a category's position is its class index.
    public let categories: [COCOInstances.Category]
    /// The images in the order of the file.
    public let items: [Item]
    /// Annotations left out by the rules above.
    public let skippedAnnotations: Int
    private let indexOfCategory: [Int: Int]

    public var classCount: Int { categories.count }
    public var classNames: [String] { categories.map(\.name) }

    /// Reads `annotationFile`; images are looked up in `imageDirectory` when loaded.
    public init(annotationFile: String, imageDirectory: String) throws {
        try self.init(
            instances: COCOInstances(contentsOfFile: annotationFile), annotationFile: annotationFile,
            imageDirectory: imageDirectory)
    }

    /// The dataset of instances already parsed; `annotationFile` names them in errors.
    public init(instances: COCOInstances, annotationFile: String, imageDirectory: String) throws {
        self.annotationFile = annotationFile
        self.imageDirectory = imageDirectory
        let categories = instances.categories.sorted { $0.id < $1.id }
        var indexOfCategory = [Int: Int]()
        for (index, category) in categories.enumerated() {
            if indexOfCategory.updateValue(index, forKey: category.id) != nil {
                throw InputError(
                    file: annotationFile,
                    problem: "categories: id \(category.id) appears twice; category ids must be unique")
            }
        }
        guard !categories.isEmpty else {
            throw InputError(
                file: annotationFile, problem: "categories: empty; a detection dataset needs at least one category")
        }
        var items = [Item]()
        var indexOfImage = [Int: Int]()
        for (position, record) in instances.images.enumerated() {
            guard let fileName = record.fileName, !fileName.isEmpty else {
                throw InputError(
                    file: annotationFile,
                    problem: "images[\(position)] (id \(record.id)) has no file_name; every image needs one")
            }
            if indexOfImage.updateValue(items.count, forKey: record.id) != nil {
                throw InputError(
                    file: annotationFile,
                    problem: "images[\(position)]: id \(record.id) appears twice; ids must be unique")
            }
            items.append(
                Item(
                    imageID: record.id, path: (imageDirectory as NSString).appendingPathComponent(fileName),
                    width: record.width, height: record.height, boxes: [], labels: [], crowdBoxes: []))
        }
        var skipped = 0
        for (position, annotation) in instances.annotations.enumerated() {
            guard let itemIndex = indexOfImage[annotation.imageID] else {
                throw InputError(
                    file: annotationFile,
                    problem: "annotations[\(position)]: image_id \(annotation.imageID) is not in images")
            }
            guard let label = indexOfCategory[annotation.categoryID] else {
                throw InputError(
                    file: annotationFile,
                    problem: "annotations[\(position)]: category_id \(annotation.categoryID) is not in categories "
                        + "(ids: \(categories.prefix(10).map { String($0.id) }.joined(separator: ", "))"
                        + "\(categories.count > 10 ? ", ..." : ""))")
            }
            let item = items[itemIndex]
            guard Self.isUsable(annotation, width: item.width, height: item.height) else {
                skipped += 1
                continue
            }
            let box = DetectionBox(coco: annotation.box)
            if annotation.isCrowd {
                items[itemIndex].crowdBoxes.append(box)
            } else {
                items[itemIndex].boxes.append(box)
                items[itemIndex].labels.append(label)
                items[itemIndex].segmentations.append(annotation.segmentation)
            }
        }
        self.categories = categories
        self.items = items
        self.skippedAnnotations = skipped
        self.indexOfCategory = indexOfCategory
    }

    /// The path of the first image when none of the images is on disk (a wrong
    /// image folder), else nil. Single missing files are the loader's business
    /// (skipped with a warning, or an error, as the recipe says).
    public func firstImageIfNoneExists() -> String? {
        guard let first = items.first else { return nil }
        return items.contains { FileManager.default.fileExists(atPath: $0.path) } ? nil : first.path
    }

    /// The first usable non-crowd annotation without a segmentation, as (image id,
    /// annotation position within the image), or nil when every one has a mask.
    public func firstAnnotationWithoutMask() -> (imageID: Int, position: Int)? {
        for item in items {
            if let position = item.segmentations.firstIndex(where: { $0 == nil }) { return (item.imageID, position) }
        }
        return nil
    }

    /// The class index of a category id, or nil for an id not in the file.
    public func classIndex(forCategoryID id: Int) -> Int? { indexOfCategory[id] }

    /// The category id of a class index, for writing results.
    public func categoryID(forClass index: Int) -> Int { categories[index].id }

    /// mmdetection's rule: a box at least 1x1 pixel, a positive area, and some
    /// overlap with the image when its size is known.
    private static func isUsable(_ annotation: COCOInstances.Annotation, width: Int?, height: Int?) -> Bool {
        let box = annotation.box
        guard box.width >= 1, box.height >= 1, annotation.area > 0 else { return false }
        if let width, let height {
            let overlapWidth = max(0, min(box.x + box.width, Double(width)) - max(box.x, 0))
            let overlapHeight = max(0, min(box.y + box.height, Double(height)) - max(box.y, 0))
            return overlapWidth * overlapHeight > 0
        }
        return true
    }
}
