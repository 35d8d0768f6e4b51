import Foundation
import MixmaeData

/// The run report's picture of a Mask R-CNN finetune: for each of the first
/// validation images, the model's detections (boxes, and masks tinted in their
/// class's colour) beside the ground truth, in the file's pixels.
///
/// ```swift
/// let picture = try InstancesPicture(items: Array(validation.dataset.items.prefix(8)), truth: truth,
///                                    detections: result.detections, classIndex: dataset.classIndex)
/// try picture.image.write(toFile: "runs/3/pictures/instances-epoch-0002.png")
/// ```
public struct InstancesPicture {
    /// The file name in the run's `pictures/` folder for `epoch` (1-based).
    public static func fileName(epoch: Int) -> String { String(format: "instances-epoch-%04d.png", epoch) }

    /// Detections scoring below this are left out of the picture (not of the metrics).
    public static let scoreThreshold = 0.3

    public let image: Image

    /// Rows of (prediction | truth) pairs, one row per image, tiles at most `tileSide` px.
    public init(
        items: [DetectionDataset.Item], truth: COCOInstances, detections: [COCODetection],
        classIndex: (Int) -> Int?, tileSide: Int = 192
    ) throws {
        let gap = 4
        var tiles: [(Image, Image)] = []
        for item in items {
            let photo = try Image(contentsOfFile: item.path, mode: .rgb)
            let found = detections.filter { $0.imageID == item.imageID && $0.score >= Self.scoreThreshold }
            let annotations = truth.annotations.filter { $0.imageID == item.imageID && !$0.isCrowd }
            let predicted = try Self.draw(
                found.map { ($0.box, $0.segmentation, classIndex($0.categoryID) ?? 0) }, on: photo)
            let wanted = try Self.draw(
                annotations.map { ($0.box, $0.segmentation, classIndex($0.categoryID) ?? 0) }, on: photo)
            let scale = min(1, Double(tileSide) / Double(max(photo.width, photo.height)))
            let (w, h) = (max(1, Int(Double(photo.width) * scale)), max(1, Int(Double(photo.height) * scale)))
            tiles.append(
                scale < 1
                    ? (try predicted.resized(width: w, height: h), try wanted.resized(width: w, height: h))
                    : (predicted, wanted))
        }
        let tileWidth = tiles.map { $0.0.width }.max() ?? 1
        let width = 2 * tileWidth + 3 * gap
        let height = tiles.reduce(gap) { $0 + $1.0.height + gap }
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        var top = gap
        for (left, right) in tiles {
            for (tile, x0) in [(left, gap), (right, 2 * gap + tileWidth)] {
                for y in 0..<tile.height {
                    let from = y * tile.width * 3
                    let to = ((top + y) * width + x0) * 3
                    pixels.replaceSubrange(
                        to..<(to + tile.width * 3), with: tile.pixels[from..<(from + tile.width * 3)])
                }
            }
            top += left.height + gap
        }
        image = try Image(width: width, height: height, channels: 3, pixels: pixels)
    }

    /// A colour per class, far apart for the first ten.
    static func colour(_ index: Int) -> (UInt8, UInt8, UInt8) {
        let palette: [(UInt8, UInt8, UInt8)] = [
            (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
            (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
        ]
        return palette[index % palette.count]
    }

    /// `photo` with each mask tinted (half the class colour) and each box outlined.
    static func draw(_ objects: [(COCOBox, COCOSegmentation?, Int)], on photo: Image) throws -> Image {
        let (width, height) = (photo.width, photo.height)
        var pixels = photo.pixels
        func paint(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8), blend: Bool) {
            guard (0..<width).contains(x), (0..<height).contains(y) else { return }
            let i = (y * width + x) * 3
            for (k, v) in [c.0, c.1, c.2].enumerated() {
                pixels[i + k] = blend ? UInt8((Int(pixels[i + k]) + Int(v)) / 2) : v
            }
        }
        for (box, segmentation, label) in objects {
            let c = colour(label)
            if let segmentation {
                let mask = segmentation.runLengthMask(height: height, width: width)
                if mask.height == height && mask.width == width {
                    for (i, on) in mask.decoded().enumerated() where on != 0 {
                        paint(i % width, i / width, c, blend: true)
                    }
                }
            }
            let (x1, y1) = (Int(box.x.rounded(.down)), Int(box.y.rounded(.down)))
            let (x2, y2) = (Int((box.x + box.width).rounded(.up)) - 1, Int((box.y + box.height).rounded(.up)) - 1)
            for x in x1...max(x1, x2) {
                paint(x, y1, c, blend: false)
                paint(x, y2, c, blend: false)
            }
            for y in y1...max(y1, y2) {
                paint(x1, y, c, blend: false)
                paint(x2, y, c, blend: false)
            }
        }
        return try Image(width: width, height: height, channels: 3, pixels: pixels)
    }
}
