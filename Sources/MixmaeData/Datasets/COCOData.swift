import Foundation
import MixmaeSupport

/// An axis-aligned box in COCO's convention: top-left corner and size, in pixels.
public struct COCOBox: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// `width * height`, the area pycocotools gives detections.
    public var area: Double { width * height }
}

/// A COCO instances file (ground truth): images, categories and annotations
/// (boxes, and segmentations when present).
///
///     let truth = try COCOInstances(contentsOfFile: "annotations/instances_val2017.json")
///     truth.annotations.filter { !$0.isCrowd }.count
///
/// Only the fields evaluation and detection training use are read; other keys
/// are ignored.
public struct COCOInstances: Equatable, Sendable {
    /// One entry of `images`.
    public struct ImageRecord: Equatable, Sendable {
        public var id: Int
        public var fileName: String?
        public var width: Int?
        public var height: Int?

        public init(id: Int, fileName: String? = nil, width: Int? = nil, height: Int? = nil) {
            self.id = id
            self.fileName = fileName
            self.width = width
            self.height = height
        }
    }

    /// One entry of `categories`; ids need not be 1...N.
    public struct Category: Equatable, Sendable {
        public var id: Int
        public var name: String

        public init(id: Int, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// One entry of `annotations`.
    public struct Annotation: Equatable, Sendable {
        public var id: Int
        public var imageID: Int
        public var categoryID: Int
        public var box: COCOBox
        /// The `area` field (for COCO, the segmentation mask's area), which
        /// decides the small/medium/large range, as in pycocotools.
        public var area: Double
        /// Crowd regions are never missed: detections inside them are ignored.
        public var isCrowd: Bool
        /// The object's polygons or RLE mask, when the file has them.
        public var segmentation: COCOSegmentation?

        public init(
            id: Int, imageID: Int, categoryID: Int, box: COCOBox, area: Double,
            isCrowd: Bool = false, segmentation: COCOSegmentation? = nil
        ) {
            self.id = id
            self.imageID = imageID
            self.categoryID = categoryID
            self.box = box
            self.area = area
            self.isCrowd = isCrowd
            self.segmentation = segmentation
        }
    }

    public var images: [ImageRecord]
    public var categories: [Category]
    public var annotations: [Annotation]

    public init(images: [ImageRecord], categories: [Category], annotations: [Annotation]) {
        self.images = images
        self.categories = categories
        self.annotations = annotations
    }

    /// Reads an instances JSON file. Errors name the file and the JSON path
    /// of the bad value, e.g. `gt.json: annotations[12].bbox: expected 4 numbers ...`.
    public init(contentsOfFile path: String) throws {
        try self.init(JSONInput.decodeFile(InstancesFile.self, path: path), file: path)
    }

    /// Parses instances JSON held in memory; `source` names it in errors.
    public init(jsonData: Data, source: String = "<instances>") throws {
        try self.init(JSONInput.decode(InstancesFile.self, from: jsonData, file: source), file: source)
    }

    private init(_ file: InstancesFile, file source: String) throws {
        images = file.images.map {
            ImageRecord(id: $0.id, fileName: $0.fileName, width: $0.width, height: $0.height)
        }
        categories = file.categories.map { Category(id: $0.id, name: $0.name ?? "") }
        var firstIndex = [Int: Int]()
        annotations = try (file.annotations ?? []).enumerated().map { index, entry in
            let path = "annotations[\(index)]"
            if let first = firstIndex.updateValue(index, forKey: entry.id) {
                throw InputError(
                    file: source, keyPath: path + ".id",
                    problem: "\(entry.id) is also the id of annotations[\(first)]; ids must be unique")
            }
            guard let area = entry.area else {
                throw InputError(
                    file: source, keyPath: path + ".area",
                    problem: "missing; COCO evaluation sorts boxes into small/medium/large "
                        + "by this field (for plain boxes, width * height)")
            }
            return Annotation(
                id: entry.id, imageID: entry.imageID, categoryID: entry.categoryID,
                box: try COCOBox(entry.bbox, file: source, path: path + ".bbox"), area: area,
                isCrowd: entry.iscrowd?.value ?? false, segmentation: entry.segmentation)
        }
    }

    /// The file's layout, as far as it is read.
    private struct InstancesFile: Decodable {
        struct ImageEntry: Decodable {
            var id: Int
            var fileName: String?
            var width: Int?
            var height: Int?

            enum CodingKeys: String, CodingKey {
                case id, width, height
                case fileName = "file_name"
            }
        }
        struct CategoryEntry: Decodable {
            var id: Int
            var name: String?
        }
        struct AnnotationEntry: Decodable {
            var id: Int
            var imageID: Int
            var categoryID: Int
            var bbox: [Double]
            var area: Double?
            var iscrowd: COCOFlag?
            var segmentation: COCOSegmentation?

            enum CodingKeys: String, CodingKey {
                case id, bbox, area, iscrowd, segmentation
                case imageID = "image_id"
                case categoryID = "category_id"
            }
        }
        var images: [ImageEntry]
        var categories: [CategoryEntry]
        var annotations: [AnnotationEntry]?
    }
}

/// COCO's 0/1 flags, also accepted as false/true.
struct COCOFlag: Decodable {
    var value: Bool

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self), number == 0 || number == 1 {
            value = number == 1
        } else if let flag = try? container.decode(Bool.self) {
            value = flag
        } else {
            throw DecodingError.typeMismatch(
                Bool.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected 0, 1, false or true"))
        }
    }
}

/// One detection in the COCO results format: a box, a mask, or both.
///
///     let detections = try COCODetection.load(contentsOfFile: "dets.json")
public struct COCODetection: Equatable, Sendable {
    public var imageID: Int
    public var categoryID: Int
    public var box: COCOBox
    public var score: Double
    /// The area that sorts the detection into small/medium/large, as pycocotools'
    /// `loadRes` sets it (see ``load(contentsOfFile:)``).
    public var area: Double
    /// The detection's mask (or polygons), for mask evaluation.
    public var segmentation: COCOSegmentation?

    /// A detection; `area` defaults to the box's (pycocotools' rule for results with boxes).
    public init(
        imageID: Int, categoryID: Int, box: COCOBox, score: Double, area: Double? = nil,
        segmentation: COCOSegmentation? = nil
    ) {
        self.imageID = imageID
        self.categoryID = categoryID
        self.box = box
        self.score = score
        self.area = area ?? box.area
        self.segmentation = segmentation
    }

    /// Reads a results file: a JSON array of `{image_id, category_id, bbox,
    /// segmentation, score}`, as pycocotools' `loadRes` reads it. The first
    /// result decides: when it has a `bbox`, every result needs one and its
    /// area is `width * height` (a `segmentation`, if any, is kept for mask
    /// evaluation); otherwise every result needs an RLE `segmentation`, its
    /// area is the mask's and its box, when missing, the mask's bounding box.
    /// Other keys are ignored.
    public static func load(contentsOfFile path: String) throws -> [COCODetection] {
        try convert(JSONInput.decodeFile([ResultEntry].self, path: path), file: path)
    }

    /// Parses a results array held in memory; `source` names it in errors.
    public static func decode(jsonData: Data, source: String = "<results>") throws
        -> [COCODetection]
    {
        try convert(JSONInput.decode([ResultEntry].self, from: jsonData, file: source), file: source)
    }

    private struct ResultEntry: Decodable {
        var imageID: Int
        var categoryID: Int
        var bbox: [Double]?
        var segmentation: COCOSegmentation?
        var score: Double

        enum CodingKeys: String, CodingKey {
            case bbox, score, segmentation
            case imageID = "image_id"
            case categoryID = "category_id"
        }
    }

    private static func convert(_ entries: [ResultEntry], file: String) throws -> [COCODetection] {
        guard let first = entries.first else { return [] }
        let boxResults = !(first.bbox ?? []).isEmpty
        if !boxResults && first.segmentation == nil {
            throw InputError(
                file: file, keyPath: "[0]",
                problem: "has neither bbox nor segmentation; a result needs a box [x, y, width, height] "
                    + "or an RLE mask {size, counts}")
        }
        return try entries.enumerated().map { index, entry in
            let path = "[\(index)]"
            if boxResults {
                guard let bbox = entry.bbox else {
                    throw InputError(
                        file: file, keyPath: path + ".bbox",
                        problem: "missing; the first result has a bbox, so every result needs one (as pycocotools)")
                }
                return COCODetection(
                    imageID: entry.imageID, categoryID: entry.categoryID,
                    box: try COCOBox(bbox, file: file, path: path + ".bbox"), score: entry.score,
                    segmentation: entry.segmentation)
            }
            guard case .mask(let mask) = entry.segmentation else {
                throw InputError(
                    file: file, keyPath: path + ".segmentation",
                    problem: entry.segmentation == nil
                        ? "missing; the first result has no bbox, so every result needs an RLE mask {size, counts}"
                        : "polygons; results without a bbox need an RLE mask {size, counts} (its area and box "
                            + "come from the mask, as in pycocotools)")
            }
            let box = try (entry.bbox?.isEmpty == false ? entry.bbox : nil).map {
                try COCOBox($0, file: file, path: path + ".bbox")
            }
            return COCODetection(
                imageID: entry.imageID, categoryID: entry.categoryID, box: box ?? mask.boundingBox, score: entry.score,
                area: Double(mask.area), segmentation: .mask(mask))
        }
    }
}

extension COCOBox {
    /// A box from COCO's `[x, y, width, height]` array.
    init(_ values: [Double], file: String, path: @autoclosure () -> String) throws {
        guard values.count == 4 else {
            throw InputError(
                file: file, keyPath: path(),
                problem: "expected 4 numbers [x, y, width, height], found \(values.count)")
        }
        self.init(x: values[0], y: values[1], width: values[2], height: values[3])
    }
}
