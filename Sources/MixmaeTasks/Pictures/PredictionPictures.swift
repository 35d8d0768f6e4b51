import Foundation
import MixmaeData
import MixmaeSupport

/// When and how many validation images a detection or segmentation run draws with its
/// predictions beside the ground truth (recipe keys `log.pictures` and `log.pictures_every`),
/// and where the pictures go (`pictures/<kind>-epoch-NNNN.png` in the run folder).
public struct PredictionPictureSchedule: Sendable, Equatable {
    /// Images per picture (the first ones of the validation split).
    public var count: Int
    /// Epochs between pictures; 0 = none.
    public var every: Int
    /// The run's `pictures` folder, once the run is registered.
    public var directory: String?

    public init(count: Int, every: Int, directory: String? = nil) {
        self.count = count
        self.every = every
        self.directory = directory
    }

    /// `log.pictures` and `log.pictures_every` of a recipe.
    public init(recipe: TaskRecipe) {
        let log = recipe.section("log")
        self.init(count: log.int("pictures"), every: log.int("pictures_every"))
    }

    /// Whether the epoch (zero-based) that just ended draws a picture.
    public func isDue(epoch: Int) -> Bool {
        directory != nil && count > 0 && every > 0 && (epoch + 1) % every == 0
    }

    /// The file for `kind` after `epoch` (zero-based): `detections-epoch-0003.png`.
    public func path(kind: String, epoch: Int) -> String? {
        directory.map { $0 + "/" + kind + String(format: "-epoch-%04d.png", epoch + 1) }
    }

    /// Writes the picture `draw` makes as the one of `kind` after `epoch`. A picture that cannot be
    /// made or written is a warning on standard error, never the end of the run.
    public func drawing(_ kind: String, epoch: Int, _ draw: () throws -> Image) {
        guard let directory, let path = path(kind: kind, epoch: epoch) else { return }
        do {
            let image = try draw()
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try image.write(toFile: path)
        } catch {
            FileHandle.standardError.write(
                Data("warning: no \(kind) picture after epoch \(epoch + 1): \(error)\n".utf8))
        }
    }
}

/// A box to draw: corners in the image's pixels, a class index, a score for predictions,
/// and the instance's mask (COCO polygons or RLE in the image's pixels) when it has one.
public struct PictureBox: Equatable, Sendable {
    public var x1: Double
    public var y1: Double
    public var x2: Double
    public var y2: Double
    public var label: Int
    public var score: Double?
    public var mask: COCOSegmentation?

    public init(
        x1: Double, y1: Double, x2: Double, y2: Double, label: Int, score: Double? = nil,
        mask: COCOSegmentation? = nil
    ) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
        self.label = label
        self.score = score
        self.mask = mask
    }
}

/// Detection pictures: each validation image at its own size twice, the ground-truth boxes
/// on the left and the predicted boxes on the right, each box in its class's colour
/// (``ClassPalette``) with a tag naming the class (and the score for a prediction). Instance
/// masks (Mask R-CNN's predictions, the annotations' segmentations) are tinted in the same
/// colour at ``maskOpacity`` under their boxes.
///
/// ```swift
/// let row = try DetectionPicture.row(image: image, truth: truth, predicted: found, classNames: names)
/// let picture = try PictureGrid.compose(rows: [row])
/// ```
public enum DetectionPicture {
    /// The picture's kind (its files are `detections-epoch-NNNN.png`).
    public static let kind = "detections"
    /// Predictions below this score are not drawn.
    public static let minimumScore = 0.3
    /// At most this many predictions are drawn per image, the highest scores first.
    public static let maximumBoxes = 30
    /// How much of its class's colour a mask's pixels take.
    public static let maskOpacity = 0.5

    /// `[ground truth, prediction]` tiles of one image.
    public static func row(image: Image, truth: [PictureBox], predicted: [PictureBox], classNames: [String]) throws
        -> [Image]
    {
        let shown = predicted.filter { ($0.score ?? 1) >= minimumScore }
            .sorted { ($0.score ?? 1) > ($1.score ?? 1) }.prefix(maximumBoxes)
        return [
            try draw(truth, on: image, classNames: classNames),
            try draw(Array(shown.reversed()), on: image, classNames: classNames),
        ]
    }

    static func draw(_ boxes: [PictureBox], on image: Image, classNames: [String]) throws -> Image {
        var canvas = try PictureCanvas(image)
        for box in boxes {
            guard let mask = box.mask?.runLengthMask(height: image.height, width: image.width),
                mask.height == image.height, mask.width == image.width
            else { continue }
            let colour = ClassPalette.colour(of: box.label)
            for (i, on) in mask.decoded().enumerated() where on != 0 {
                canvas.blend(x: i % image.width, y: i / image.width, colour, alpha: maskOpacity)
            }
        }
        let thickness = max(1, min(image.width, image.height) / 256)
        for box in boxes {
            let colour = ClassPalette.colour(of: box.label)
            let (x1, y1) = (Int(box.x1.rounded(.down)), Int(box.y1.rounded(.down)))
            let (x2, y2) = (Int(box.x2.rounded(.up)) - 1, Int(box.y2.rounded(.up)) - 1)
            canvas.outline(x1: x1, y1: y1, x2: max(x1, x2), y2: max(y1, y2), colour: colour, thickness: thickness)
            let name = box.label < classNames.count ? String(classNames[box.label].prefix(10)) : "\(box.label)"
            let text = box.score.map { name + " " + scoreText($0) } ?? name
            let tag = PixelFont.size(of: text)
            let top = y1 - tag.height >= 0 ? y1 - tag.height : y1
            canvas.label(text, x: min(max(x1, 0), max(image.width - tag.width, 0)), y: top, colour: colour)
        }
        return canvas.image
    }

    /// `.87` for 0.87, `1.0` for 1.
    static func scoreText(_ score: Double) -> String {
        score >= 0.995 ? "1.0" : "." + String(format: "%02d", Int((score * 100).rounded()))
    }
}

/// Segmentation pictures: each validation image at its own size twice, the ground-truth
/// label map over it on the left and the predicted one on the right, each class in its
/// colour (``ClassPalette``) at half opacity; pixels with the ignore index stay as they are.
public enum SegmentationPicture {
    /// The picture's kind (its files are `segmentation-epoch-NNNN.png`).
    public static let kind = "segmentation"
    public static let opacity = 0.5

    /// `[ground truth, prediction]` tiles of one image; `truth` is a one-channel label map and
    /// `prediction` a class per pixel, both of the image's size.
    public static func row(image: Image, truth: Image, prediction: [Int32], ignoreIndex: Int) throws -> [Image] {
        guard truth.width == image.width, truth.height == image.height,
            prediction.count == image.width * image.height
        else {
            throw InputError(
                "a segmentation picture needs label maps of the image's size \(image.width)x\(image.height), got "
                    + "\(truth.width)x\(truth.height) and \(prediction.count) predicted pixels")
        }
        var left = try PictureCanvas(image)
        var right = left
        for y in 0..<image.height {
            for x in 0..<image.width {
                let known = Int(truth[x: x, y: y, channel: 0])
                if known != ignoreIndex { left.blend(x: x, y: y, ClassPalette.colour(of: known), alpha: opacity) }
                let guessed = Int(prediction[y * image.width + x])
                right.blend(x: x, y: y, ClassPalette.colour(of: guessed), alpha: opacity)
            }
        }
        return [left.image, right.image]
    }
}

extension DetectionPicture {
    /// The picture of the first `count` images of `dataset`: each image file at its own size,
    /// its annotations on the left, `detections` (COCO results in the files' pixels) on the right;
    /// with `masks`, the annotations' segmentations and the detections' masks too.
    public static func grid(
        of detections: [COCODetection], on dataset: DetectionDataset, count: Int, masks: Bool = false
    )
        throws -> Image
    {
        let classOfCategory = Dictionary(
            uniqueKeysWithValues: dataset.categories.enumerated().map { ($0.element.id, $0.offset) })
        let items = dataset.items.prefix(count)
        let wanted = Set(items.map(\.imageID))
        var found: [Int: [PictureBox]] = [:]
        for detection in detections where wanted.contains(detection.imageID) {
            let box = DetectionBox(coco: detection.box)
            found[detection.imageID, default: []].append(
                PictureBox(
                    x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2,
                    label: classOfCategory[detection.categoryID] ?? -1, score: detection.score,
                    mask: masks ? detection.segmentation : nil))
        }
        let rows = try items.map { item in
            let truth = item.boxes.indices.map { i in
                let box = item.boxes[i]
                return PictureBox(
                    x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2, label: item.labels[i],
                    mask: masks ? item.segmentations[i] : nil)
            }
            return try row(
                image: Image(contentsOfFile: item.path, mode: .rgb), truth: truth, predicted: found[item.imageID] ?? [],
                classNames: dataset.classNames)
        }
        return try PictureGrid.compose(rows: rows)
    }
}
