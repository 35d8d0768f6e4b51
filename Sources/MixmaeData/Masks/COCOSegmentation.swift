import Foundation

/// The `segmentation` of a COCO annotation or result: polygons in image
/// pixels, or a mask in run-length encoding (`{"size": [h, w], "counts": ...}`
/// with `counts` a compressed string or, for uncompressed RLE, a list of numbers).
///
///     let mask = segmentation.runLengthMask(height: image.height, width: image.width)
///     mask.area
///
/// Checked when read, with what pycocotools would choke on reported instead:
/// at least one polygon; each an even number of coordinates within ±100000
/// pixels; the first at least 3 points (pycocotools' `frPyObjects` takes a
/// first polygon of 4 numbers for a list of boxes and fails); RLE counts that
/// cover the `size` exactly.
public enum COCOSegmentation: Equatable, Sendable {
    /// Polygons `[x0, y0, x1, y1, ...]`, one object possibly in several parts.
    case polygons([[Double]])
    /// A mask in run-length encoding, with its own size.
    case mask(RunLengthMask)

    /// The largest coordinate magnitude a polygon may have.
    public static let coordinateLimit = 100_000.0

    /// pycocotools' `annToRLE`: polygons rasterised on a `height` x `width`
    /// image (`frPyObjects`) and merged into one mask; an RLE as it is (its
    /// own size, as `frUncompressedRLE` and compressed RLE keep theirs).
    public func runLengthMask(height: Int, width: Int) -> RunLengthMask {
        switch self {
        case .mask(let mask):
            return mask
        case .polygons(let polygons):
            return RunLengthMask.merge(polygons.map { RunLengthMask(polygon: $0, height: height, width: width) })
        }
    }

    /// Whether the segmentation needs the image's size to become a mask.
    public var needsImageSize: Bool {
        if case .polygons = self { return true }
        return false
    }

    /// Why `polygons` cannot be rasterised as pycocotools would, or nil.
    static func problem(with polygons: [[Double]]) -> String? {
        guard let first = polygons.first else {
            return "an empty list of polygons; give at least one polygon [x0, y0, x1, y1, ...] or an RLE mask"
        }
        if first.count < 6 {
            return "polygon 0 has \(first.count) numbers; the first polygon needs at least 3 points (6 numbers), "
                + "as pycocotools' frPyObjects reads it"
        }
        for (i, polygon) in polygons.enumerated() {
            if polygon.count < 2 || polygon.count % 2 != 0 {
                return "polygon \(i) has \(polygon.count) numbers; polygons are pairs x, y (an even count)"
            }
            if let bad = polygon.first(where: { !(abs($0) <= coordinateLimit) }) {
                return "polygon \(i) has the coordinate \(bad), beyond ±\(Int(coordinateLimit)) pixels"
            }
        }
        return nil
    }
}

extension COCOSegmentation: Decodable {
    private enum CodingKeys: String, CodingKey {
        case size, counts
    }

    public init(from decoder: Decoder) throws {
        func corrupted(_ message: String, at path: [CodingKey] = decoder.codingPath) -> DecodingError {
            .dataCorrupted(DecodingError.Context(codingPath: path, debugDescription: message))
        }
        if (try? decoder.unkeyedContainer()) != nil {
            let polygons = try decoder.singleValueContainer().decode([[Double]].self)
            if let problem = Self.problem(with: polygons) { throw corrupted(problem) }
            self = .polygons(polygons)
            return
        }
        guard let object = try? decoder.container(keyedBy: CodingKeys.self) else {
            throw corrupted("expected a list of polygons or an RLE object {\"size\": [height, width], \"counts\": ...}")
        }
        let size = try object.decode([Int].self, forKey: .size)
        let sizePath = object.codingPath + [CodingKeys.size]
        guard size.count == 2 else {
            throw corrupted("expected [height, width], found \(size.count) numbers", at: sizePath)
        }
        guard size.allSatisfy({ (0...Int(UInt32.max)).contains($0) }), size[0] * size[1] <= Int(UInt32.max) else {
            throw corrupted("\(size) is not an image size [height, width] COCO's masks can hold", at: sizePath)
        }
        let countsPath = object.codingPath + [CodingKeys.counts]
        do {
            if let string = try? object.decode(String.self, forKey: .counts) {
                self = .mask(try RunLengthMask(compressedCounts: string, height: size[0], width: size[1]))
            } else {
                let numbers = try object.decode([Int].self, forKey: .counts)
                guard numbers.allSatisfy({ (0...Int(UInt32.max)).contains($0) }) else {
                    throw corrupted("run lengths must be whole numbers from 0 to \(UInt32.max)", at: countsPath)
                }
                self = .mask(
                    try RunLengthMask.validated(height: size[0], width: size[1], counts: numbers.map { UInt32($0) }))
            }
        } catch let error as RunLengthMask.FormatError {
            throw corrupted(error.message, at: countsPath)
        }
    }
}
