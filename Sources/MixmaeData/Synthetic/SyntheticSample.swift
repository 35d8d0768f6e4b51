import Foundation
import MixKit

/// One visible object of a synthetic image, as the annotation files record it.
public struct SyntheticAnnotation: Equatable, Sendable {
    /// 0..<classCount; the COCO category id is `classIndex + 1`, the label map value too.
    public var classIndex: Int
    /// The tight box of the visible pixels: top-left pixel and size in pixels,
    /// as COCO's `bbox` and pycocotools' `toBbox` of the mask.
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int
    /// Visible pixels (pixels whose centre the object owns).
    public var area: Int
    /// Fewer than ``SyntheticSample/crowdArea`` visible pixels: too little to
    /// recognise, so marked crowd (ignored by training and by COCO evaluation)
    /// and 255 in the label map.
    public var isCrowd: Bool
    /// The visible mask as COCO's uncompressed run-length encoding: column-major
    /// run lengths, starting with a run of background (possibly 0).
    public var runLengths: [Int]
}

/// A synthetic image with its annotations in every format: the class of its
/// dominant shape, the visible objects, and the semantic label map.
///
/// ```swift
/// let sample = SyntheticSample(index: 0, options: options)
/// sample.dominantClass        // 0 (image index % classCount)
/// sample.labelMap             // 1 channel: 0 background, 1...K shapes, 255 ignore
/// ```
public struct SyntheticSample: Sendable {
    public var index: Int
    public var scene: SyntheticScene
    public var image: Image
    /// 0 = background, c + 1 = class c, 255 = ignore (crowd objects; borders when asked).
    public var labelMap: Image
    /// Visible objects in painting order; fully hidden ones are left out.
    public var annotations: [SyntheticAnnotation]
    public var dominantClass: Int
    /// The scene of the classification split: `scene`, or (with
    /// ``ClassificationScenes/single``) a scene of its own holding only a shape of
    /// class ``dominantClass``.
    public var classificationScene: SyntheticScene
    /// The image of the classification split (`classificationScene` drawn).
    public var classificationImage: Image
    /// The detection/segmentation image, its label map and annotations: the
    /// square ones, or (with ``SyntheticDatasetOptions/denseSizes``) a scene of
    /// its own drawn at the larger side and cut to the dense size at its top left.
    public var denseImage: Image
    public var denseLabelMap: Image
    public var denseAnnotations: [SyntheticAnnotation]

    /// Objects with fewer visible pixels than this are crowd regions.
    public static let crowdArea = 10
    /// The dominant class must cover at least this many times the pixels of any other class.
    public static let dominanceMargin = 2
    /// Scenes drawn before the dominant shape is moved on top, then left alone.
    static let attempts = 12

    /// The image `index` of a dataset with `options`: its dominant class is
    /// `index % classCount`; its scene comes from the generator seeded with
    /// (seed, index, attempt), the first attempt whose dominant shape is clearly
    /// dominant (see ``isClearlyDominant(_:_:classCount:)``). The dense scene is
    /// seeded with attempt ``attempts``, the single-shape classification scene with
    /// ``attempts`` + 1.
    public init(index: Int, options: SyntheticDatasetOptions) {
        let dominantClass = index % options.classCount
        var scene: SyntheticScene!
        var rendered: RenderedScene!
        for attempt in 0..<Self.attempts {
            var rng = RandomGenerator(seed: derivedSeed(options.seed, UInt64(index), UInt64(attempt)))
            scene = SyntheticScene.random(
                size: options.imageSize, dominantClass: dominantClass, classCount: options.classCount, using: &rng)
            rendered = scene.render()
            if Self.isClearlyDominant(scene, rendered, classCount: options.classCount) { break }
        }
        if !Self.isClearlyDominant(scene, rendered, classCount: options.classCount) {
            scene = scene.dominantOnTop()
            rendered = scene.render()
        }
        if !Self.isClearlyDominant(scene, rendered, classCount: options.classCount) {
            scene = scene.dominantOnly()
            rendered = scene.render()
        }
        self.index = index
        self.scene = scene
        self.image = rendered.image
        self.dominantClass = dominantClass
        switch options.classificationScenes {
        case .cluttered:
            (classificationScene, classificationImage) = (scene, rendered.image)
        case .single:
            var rng = RandomGenerator(seed: derivedSeed(options.seed, UInt64(index), UInt64(Self.attempts + 1)))
            classificationScene = SyntheticScene.random(
                size: options.imageSize, dominantClass: dominantClass, classCount: options.classCount,
                layout: .single, using: &rng)
            classificationImage = classificationScene.render().image
        }
        let annotations = Self.annotations(scene, rendered, width: scene.size, height: scene.size)
        self.annotations = annotations.compactMap { $0 }
        self.labelMap = Self.labelMap(
            scene, rendered, annotations: annotations, ignoreBorders: options.ignoreBorders, width: scene.size,
            height: scene.size)
        let dense = options.denseSize(ofImage: index)
        if dense.width == scene.size && dense.height == scene.size {
            (denseImage, denseLabelMap, denseAnnotations) = (image, labelMap, self.annotations)
        } else {
            var rng = RandomGenerator(seed: derivedSeed(options.seed, UInt64(index), UInt64(Self.attempts)))
            let side = max(dense.width, dense.height)
            let denseScene = SyntheticScene.random(
                size: side, dominantClass: dominantClass, classCount: options.classCount, using: &rng)
            let cut = denseScene.render().cropped(side: side, width: dense.width, height: dense.height)
            let found = Self.annotations(denseScene, cut, width: dense.width, height: dense.height)
            denseImage = cut.image
            denseAnnotations = found.compactMap { $0 }
            denseLabelMap = Self.labelMap(
                denseScene, cut, annotations: found, ignoreBorders: options.ignoreBorders, width: dense.width,
                height: dense.height)
        }
    }

    /// Whether the dominant object covers more visible pixels than any other
    /// object, and its class at least ``dominanceMargin`` times the pixels of
    /// any other class, counting all pixels and again counting only pixels off
    /// borders (so the label map agrees with or without ignored borders).
    public static func isClearlyDominant(_ scene: SyntheticScene, _ rendered: RenderedScene, classCount: Int) -> Bool {
        let areas = rendered.visibleAreas(objectCount: scene.objects.count)
        let dominantArea = areas[scene.dominantIndex]
        for (index, area) in areas.enumerated() where index != scene.dominantIndex && area >= dominantArea {
            return false
        }
        var all = [Int](repeating: 0, count: classCount)
        var interior = all
        for (pixel, owner) in rendered.owners.enumerated() where owner > 0 {
            let object = Int(owner) - 1
            guard areas[object] >= crowdArea else { continue }
            let classIndex = scene.objects[object].classIndex
            all[classIndex] += 1
            if !rendered.isBorder[pixel] { interior[classIndex] += 1 }
        }
        let dominant = scene.objects[scene.dominantIndex].classIndex
        for counts in [all, interior] {
            for (classIndex, count) in counts.enumerated()
            where classIndex != dominant && count * dominanceMargin > counts[dominant] {
                return false
            }
        }
        return interior[dominant] > 0
    }

    /// Per object (nil when fully hidden): its box, area, crowd flag and mask.
    private static func annotations(_ scene: SyntheticScene, _ rendered: RenderedScene, width: Int, height: Int)
        -> [SyntheticAnnotation?]
    {
        scene.objects.enumerated().map { index, object in
            let owner = UInt8(index + 1)
            var (minX, minY, maxX, maxY, area) = (width, height, -1, -1, 0)
            var runs = [Int]()
            var inside = false
            var run = 0
            for x in 0..<width {
                for y in 0..<height {
                    let mine = rendered.owners[y * width + x] == owner
                    if mine != inside {
                        runs.append(run)
                        run = 0
                        inside = mine
                    }
                    run += 1
                    guard mine else { continue }
                    area += 1
                    (minX, maxX) = (min(minX, x), max(maxX, x))
                    (minY, maxY) = (min(minY, y), max(maxY, y))
                }
            }
            runs.append(run)
            guard area > 0 else { return nil }
            return SyntheticAnnotation(
                classIndex: object.classIndex, x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1,
                area: area, isCrowd: area < crowdArea, runLengths: runs)
        }
    }

    private static func labelMap(
        _ scene: SyntheticScene, _ rendered: RenderedScene, annotations: [SyntheticAnnotation?], ignoreBorders: Bool,
        width: Int, height: Int
    ) -> Image {
        let values = rendered.owners.enumerated().map { pixel, owner -> UInt8 in
            if ignoreBorders && rendered.isBorder[pixel] { return 255 }
            guard owner > 0, let annotation = annotations[Int(owner) - 1] else { return 0 }
            return annotation.isCrowd ? 255 : UInt8(annotation.classIndex + 1)
        }
        return try! Image(width: width, height: height, channels: 1, pixels: values)
    }
}

extension RenderedScene {
    /// The top-left `width` x `height` of a `side` x `side` rendering.
    func cropped(side: Int, width: Int, height: Int) -> RenderedScene {
        var owners = [UInt8]()
        var border = [Bool]()
        owners.reserveCapacity(width * height)
        border.reserveCapacity(width * height)
        for y in 0..<height {
            owners += self.owners[(y * side)..<(y * side + width)]
            border += isBorder[(y * side)..<(y * side + width)]
        }
        return RenderedScene(
            image: try! image.cropped(x: 0, y: 0, width: width, height: height), owners: owners, isBorder: border)
    }
}
