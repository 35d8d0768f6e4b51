import Foundation
import MixKit

/// One entry point per reader of user data files (PNG, JPEG, COCO JSON), run
/// on arbitrary bytes as a user's file would be: the fuzz targets in `Fuzz/`
/// call these, and the test suite replays the saved corpus and crashers
/// through the same functions. Each must return (accepted or rejected) and
/// never crash, hang or allocate without bound.
///
/// ```swift
/// if case .rejected(let why) = DataReaderFuzzing.png(bytes) { print(why) }
/// ```
public enum DataReaderFuzzing {
    public typealias Outcome = ReaderFuzzing.Outcome

    /// The names of the targets, as `Fuzz/` and `scripts/fuzz` know them.
    public static let targets = ["png", "jpeg", "coco"]

    /// Masks larger than this many pixels are not rasterised while fuzzing
    /// (the readers accept them; rasterising is linear in the pixel count).
    static let maximumMaskPixels = 1 << 22

    /// Runs target `name` on `bytes`; nil for an unknown target.
    public static func run(_ name: String, _ bytes: [UInt8]) -> Outcome? {
        switch name {
        case "png": return png(bytes)
        case "jpeg": return jpeg(bytes)
        case "coco": return coco(bytes)
        default: return nil
        }
    }

    /// The PNG decoder in every mode (as stored, RGB, RGBA and label maps).
    public static func png(_ bytes: [UInt8]) -> Outcome {
        decodeEveryMode(bytes, modes: [.original, .rgb, .rgba, .labelMap])
    }

    /// The JPEG decoder in every mode a JPEG can be read in (and the label
    /// mode, which must refuse it).
    public static func jpeg(_ bytes: [UInt8]) -> Outcome {
        decodeEveryMode(bytes, modes: [.original, .rgb, .rgba, .labelMap])
    }

    /// The COCO readers: the bytes as an instances file (images, categories,
    /// annotations with polygons or RLE masks, each mask rasterised at its
    /// image's size) and as a results file (detections).
    public static func coco(_ bytes: [UInt8]) -> Outcome {
        let data = Data(bytes)
        var read = 0
        var problems: [String] = []
        do {
            let instances = try COCOInstances(jsonData: data, source: "fuzz-input")
            var sizes: [Int: (Int, Int)] = [:]
            for image in instances.images {
                if let width = image.width, let height = image.height { sizes[image.id] = (height, width) }
            }
            for annotation in instances.annotations {
                read += 1
                guard let segmentation = annotation.segmentation,
                    let size = sizes[annotation.imageID] ?? (segmentation.needsImageSize ? nil : (0, 0))
                else { continue }
                let (height, width) = size
                guard height >= 0, width >= 0,
                    CheckedSize.multiply(height, width).map({ $0 <= maximumMaskPixels }) == true
                else { continue }
                let mask = segmentation.runLengthMask(height: height, width: width)
                _ = mask.area
                _ = mask.boundingBox
            }
        } catch {
            problems.append(String(describing: error))
        }
        do {
            let detections = try COCODetection.decode(jsonData: data, source: "fuzz-input")
            read += detections.count
        } catch {
            problems.append(String(describing: error))
        }
        return problems.count == 2 ? .rejected(problems.joined(separator: "; ")) : .accepted(read)
    }

    private static func decodeEveryMode(_ bytes: [UInt8], modes: [ImageDecodeMode]) -> Outcome {
        var decoded = 0
        var problems: [String] = []
        for mode in modes {
            do {
                let image = try Image(decoding: bytes, mode: mode, source: "fuzz-input")
                decoded += image.width * image.height
            } catch {
                problems.append(String(describing: error))
            }
        }
        return problems.count == modes.count ? .rejected(problems[0]) : .accepted(decoded)
    }
}
