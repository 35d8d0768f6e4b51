import Foundation

/// Writes a split's annotations as a COCO instances JSON file.
enum COCOInstancesWriter {
    private struct File: Encodable {
        struct Info: Encodable {
            var description: String
            var version: String
        }
        struct ImageEntry: Encodable {
            var id: Int
            var fileName: String
            var width: Int
            var height: Int
        }
        /// Polygons (`[[x0, y0, x1, y1, ...], ...]`, pixel corners) or, for crowd objects
        /// as in COCO, uncompressed RLE.
        enum Segmentation: Encodable {
            case polygons([[Int]])
            case runLengths(size: [Int], counts: [Int])

            private enum Keys: String, CodingKey { case size, counts }

            func encode(to encoder: Encoder) throws {
                switch self {
                case .polygons(let polygons):
                    var container = encoder.singleValueContainer()
                    try container.encode(polygons)
                case .runLengths(let size, let counts):
                    var container = encoder.container(keyedBy: Keys.self)
                    try container.encode(size, forKey: .size)
                    try container.encode(counts, forKey: .counts)
                }
            }
        }
        struct AnnotationEntry: Encodable {
            var id: Int
            var imageId: Int
            var categoryId: Int
            var bbox: [Int]
            var area: Int
            var iscrowd: Int
            var segmentation: Segmentation
        }
        struct CategoryEntry: Encodable {
            var id: Int
            var name: String
            var supercategory: String
        }
        var info: Info
        var licenses: [String]
        var images: [ImageEntry]
        var annotations: [AnnotationEntry]
        var categories: [CategoryEntry]
    }

    /// Image ids are `index + 1`, category ids `classIndex + 1`, annotation ids
    /// count from 1 in image order.
    static func write(
        _ records: ArraySlice<SyntheticDatasetGenerator.Record>, options: SyntheticDatasetOptions, to path: String
    ) throws {
        var annotations = [File.AnnotationEntry]()
        for record in records {
            for annotation in record.annotations {
                annotations.append(
                    File.AnnotationEntry(
                        id: annotations.count + 1, imageId: record.index + 1, categoryId: annotation.classIndex + 1,
                        bbox: [annotation.x, annotation.y, annotation.width, annotation.height], area: annotation.area,
                        iscrowd: annotation.isCrowd ? 1 : 0,
                        segmentation: segmentation(annotation, size: record.denseSize)))
            }
        }
        let file = File(
            info: File.Info(
                description: "mixmae synthetic shapes (seed \(options.seed))",
                version: String(SyntheticDatasetGenerator.version)),
            licenses: [],
            images: records.map {
                File.ImageEntry(
                    id: $0.index + 1, fileName: SyntheticDatasetGenerator.stem($0.index) + "." + options.imageExtension,
                    width: $0.denseSize.width, height: $0.denseSize.height)
            },
            annotations: annotations,
            categories: options.classNames.enumerated().map {
                File.CategoryEntry(id: $0.offset + 1, name: $0.element, supercategory: "shape")
            })
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try FileBytes.writeAtomically(Array(encoder.encode(file)), to: path)
    }

    /// The visible mask of an object: traced polygons (``MaskPolygons``), which rasterise
    /// back to exactly its pixels; a crowd object keeps its RLE, as COCO's crowd regions do.
    private static func segmentation(_ annotation: SyntheticAnnotation, size: SyntheticImageSize)
        -> File.Segmentation
    {
        guard !annotation.isCrowd else {
            return .runLengths(size: [size.height, size.width], counts: annotation.runLengths)
        }
        let mask = RunLengthMask(
            height: size.height, width: size.width, counts: annotation.runLengths.map { UInt32($0) })
        return .polygons(
            MaskPolygons.trace(mask.decoded(), height: size.height, width: size.width).map { $0.map { Int($0) } })
    }
}

/// `synth.json`: the options a dataset was made with, its classes and counts.
struct SyntheticManifest: Codable, Equatable {
    struct Arguments: Codable, Equatable {
        var images: Int
        var size: Int
        var classes: Int
        var seed: UInt64
        var valFraction: Double
        var format: String
        var ignoreBorders: Bool
        /// `WxH` of the dense images when they are not square (absent otherwise).
        var denseSizes: [String]?
        /// `single` or `cluttered` (absent in datasets of generator version 2, which were cluttered).
        var classificationScenes: String?
    }
    struct Splits: Codable, Equatable {
        var train: Int
        var val: Int
    }
    var generator = "mixmae data synth"
    var version = SyntheticDatasetGenerator.version
    var arguments: Arguments
    var classes: [String]
    /// Classes of the label maps: background plus the shapes.
    var segmentationClasses: [String]
    var splits: Splits
    var objects: Int
    var crowd: Int

    init(_ options: SyntheticDatasetOptions, _ summary: SyntheticDatasetSummary) {
        arguments = Arguments(options)
        classes = options.classNames
        segmentationClasses = ["background"] + options.classNames
        splits = Splits(train: summary.trainCount, val: summary.validationCount)
        objects = summary.objectCount
        crowd = summary.crowdCount
    }

    func matches(_ options: SyntheticDatasetOptions) -> Bool {
        version == SyntheticDatasetGenerator.version && arguments == Arguments(options)
    }

    static func read(_ path: String) throws -> SyntheticManifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(SyntheticManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0A]
    }
}

extension SyntheticManifest.Arguments {
    init(_ options: SyntheticDatasetOptions) {
        self.init(
            images: options.imageCount, size: options.imageSize, classes: options.classCount, seed: options.seed,
            valFraction: options.validationFraction, format: options.format.rawValue,
            ignoreBorders: options.ignoreBorders,
            denseSizes: options.denseSizes.isEmpty ? nil : options.denseSizes.map(\.description),
            classificationScenes: options.classificationScenes.rawValue)
    }
}

/// `README.md`: the layout and the conventions of a synthetic dataset.
enum SyntheticReadme {
    static func text(_ options: SyntheticDatasetOptions, _ summary: SyntheticDatasetSummary) -> String {
        let ext = options.imageExtension
        let k = options.classCount
        let classes = options.classNames.enumerated().map { "| \($0.offset + 1) | \($0.element) |" }
            .joined(separator: "\n")
        let command =
            "mixmae data synth --out DIR --images \(options.imageCount) --size \(options.imageSize) "
            + "--classes \(k) --seed \(options.seed) --val-fraction \(options.validationFraction) "
            + "--format \(options.format.rawValue)\(options.ignoreBorders ? " --ignore-borders" : "")"
            + (options.denseSizes.isEmpty
                ? "" : " --dense-sizes " + options.denseSizes.map(\.description).joined(separator: ","))
            + " --classification-scenes \(options.classificationScenes.rawValue)"
        let classificationImages =
            switch options.classificationScenes {
            case .single:
                """
                The classification images are scenes of their own: one shape of the image's class, \
                \(patterns(SceneLayout.single.shapePatterns)) fill, on a \
                \(patterns(SceneLayout.single.backgroundPatterns)) background (radius \
                \(percent(SceneLayout.single.dominantRadius)) of the side, centre within \
                \(percent(SceneLayout.single.dominantCenter)) of the side on each axis, any rotation and colours), \
                so that recognising the shape is the whole task (`--classification-scenes cluttered` makes them the \
                cluttered scenes below instead).
                """
            case .cluttered:
                "The classification images are the cluttered scenes below (`--classification-scenes cluttered`)."
            }
        return """
            # Synthetic shapes

            Made by `\(command)` (generator version \(SyntheticDatasetGenerator.version)); the same command \
            writes the same bytes. \(options.imageCount) images of \(options.imageSize)x\(options.imageSize) \
            pixels: \(summary.trainCount) for training (image indices 0...\(summary.trainCount - 1)) and \
            \(summary.validationCount) for validation (the rest), \(summary.objectCount) annotated objects of \
            which \(summary.crowdCount) are crowd regions.

            \(classificationImages)

            Each detection and segmentation image shows a textured background (gradient, stripes, checkers or value noise) and 2 to 5 \
            textured shapes (solid, gradient, stripes, checkers or noise fill), scaled, rotated where that \
            changes the shape, overlapping and cut by the border. One shape is large and dominant: it covers \
            more visible pixels than any other object, and its class at least \
            \(SyntheticSample.dominanceMargin) times the pixels of any other class. Image `i` has dominant class \
            `i mod \(k)`. Edges are anti-aliased (3x3 samples per pixel); a pixel belongs to the object that \
            owns its centre.

            ## Classes

            | id | name |
            |---:|------|
            \(classes)

            The id is the COCO category id and the label map value; ImageFolder numbers the class folders \
            alphabetically from 0 instead.

            ## Layout

            - `classification/{train,val}/<class>/NNNNNN.\(ext)`: ImageFolder; the class is the \
            \(options.classificationScenes == .single ? "shape" : "dominant shape").
            - `detection/{train,val}/images/NNNNNN.\(ext)` and `detection/{train,val}.json`: COCO instances. \
            Image id = NNNNNN + 1. One annotation per visible object: `bbox` = [x, y, width, height], the tight \
            box of its visible pixels; `area` = its visible pixel count; `segmentation` = its visible mask as \
            polygons along the pixel edges (vertices at pixel corners), one per connected part (an object \
            cut by occluders has several), which pycocotools rasterises back to exactly its visible pixels; \
            a part with holes (a ring, an occluder inside an object) is one keyhole polygon, joined to each \
            hole by a zero-width cut that the even-odd fill cancels. Objects hidden entirely are left out; \
            objects with fewer than \(SyntheticSample.crowdArea) visible pixels have `iscrowd` 1 (ignored in \
            training and evaluation) and, as COCO's crowd regions, their mask as uncompressed RLE (column-major).
            - `segmentation/{images,annotations}/{training,validation}/NNNNNN`: ADE20K layout, images \
            `.\(ext)`, label maps `.png` (8-bit grayscale): 0 = background, 1...\(k) = the classes above, \
            255 = ignore: crowd objects\(options.ignoreBorders ? ", and every pixel on an object border (its 3x3 samples have different owners)" : "; borders are labelled (regenerate with --ignore-borders to mark them 255)"). \
            Evaluate with `mixmae eval seg --num-classes \(k + 1)` (no zero-label reduction).
            - `synth.json`: the arguments, the class names and the counts.

            \(options.classificationScenes == .cluttered && options.denseSizes.isEmpty ? "The same image file appears in all three layouts." : "The same image file appears in the detection and segmentation layouts.")

            """
    }

    /// `solid or gradient` for [.solid, .gradient].
    private static func patterns(_ patterns: [SceneTexture.Pattern]) -> String {
        patterns.map(\.rawValue).joined(separator: " or ")
    }

    /// `28-38 %` for 0.28...0.38.
    private static func percent(_ range: ClosedRange<Double>) -> String {
        "\(Int((range.lowerBound * 100).rounded()))-\(Int((range.upperBound * 100).rounded())) %"
    }
}
