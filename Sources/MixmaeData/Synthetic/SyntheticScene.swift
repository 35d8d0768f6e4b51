import Foundation
import MixKit

/// One shape placed in a scene.
public struct SceneObject: Equatable, Sendable {
    public let kind: ShapeKind
    /// Class index, 0..<classCount (the kind's position in ``ShapeKind/allCases``).
    public let classIndex: Int
    /// Centre, in pixels.
    public let centerX: Double
    public let centerY: Double
    /// Pixels per unit of the shape's frame.
    public let radius: Double
    /// Rotation, in radians.
    public let angle: Double
    /// The ellipse's axis ratio (1 for other kinds).
    public let aspect: Double
    public let texture: SceneTexture
    private let cosine: Double
    private let sine: Double

    public init(
        kind: ShapeKind, classIndex: Int, centerX: Double, centerY: Double, radius: Double, angle: Double,
        aspect: Double, texture: SceneTexture
    ) {
        self.kind = kind
        self.classIndex = classIndex
        self.centerX = centerX
        self.centerY = centerY
        self.radius = radius
        self.angle = angle
        self.aspect = aspect
        self.texture = texture
        cosine = cos(angle)
        sine = sin(angle)
    }

    /// Whether the point (`x`, `y`) in image pixels is inside the shape.
    public func contains(x: Double, y: Double) -> Bool {
        let (u, v) = local(x: x, y: y)
        return kind.contains(u / radius, v / radius, aspect: aspect)
    }

    /// The point in the shape's rotated frame, in pixels from its centre.
    func local(x: Double, y: Double) -> (Double, Double) {
        let (dx, dy) = (x - centerX, y - centerY)
        return (dx * cosine + dy * sine, -dx * sine + dy * cosine)
    }
}

/// Where and how large a scene's shapes are, and how many there are.
///
/// ```swift
/// SceneLayout.cluttered.distractorCount   // 1...4
/// SceneLayout.single.distractorCount      // 0...0
/// ```
public struct SceneLayout: Equatable, Sendable {
    /// Radius of the dominant shape, as a fraction of the image side.
    public var dominantRadius: ClosedRange<Double>
    /// Range of each coordinate of the dominant shape's centre, as a fraction of the image side.
    public var dominantCenter: ClosedRange<Double>
    /// How many other shapes a scene has.
    public var distractorCount: ClosedRange<Int>
    /// Radius of the other shapes, as a fraction of the image side.
    public var distractorRadius: ClosedRange<Double>
    /// The patterns a background is drawn from (uniformly).
    public var backgroundPatterns: [SceneTexture.Pattern]
    /// The patterns a shape is filled with (uniformly).
    public var shapePatterns: [SceneTexture.Pattern]

    /// The detection and segmentation scenes (and the classification images of
    /// `--classification-scenes cluttered`): a large shape among 1 to 4 smaller
    /// ones of any class, anywhere.
    public static let cluttered = SceneLayout(
        dominantRadius: 0.24...0.36, dominantCenter: 0.32...0.68, distractorCount: 1...4,
        distractorRadius: 0.08...0.18, backgroundPatterns: [.gradient, .stripes, .checkers, .noise],
        shapePatterns: SceneTexture.Pattern.allCases)
    /// The default classification images: the shape alone, in one colour, larger and
    /// nearer the centre, so that it is seldom cut by the border, on a smooth gradient
    /// (still any position within the middle fifth, scale, rotation and colours).
    public static let single = SceneLayout(
        dominantRadius: 0.28...0.38, dominantCenter: 0.4...0.6, distractorCount: 0...0,
        distractorRadius: 0.08...0.18, backgroundPatterns: [.gradient], shapePatterns: [.solid])
}

/// A synthetic scene: a textured background and shapes painted bottom to top,
/// one of them (``dominantIndex``) large and meant to cover most visible pixels.
///
/// ```swift
/// var rng = RandomGenerator(seed: 1)
/// let scene = SyntheticScene.random(size: 64, dominantClass: 2, classCount: 6, layout: .cluttered, using: &rng)
/// let rendered = scene.render()
/// ```
public struct SyntheticScene: Equatable, Sendable {
    public var size: Int
    public var background: SceneTexture
    /// Painting order: later objects cover earlier ones.
    public var objects: [SceneObject]
    public var dominantIndex: Int

    /// A random scene whose dominant shape is of class `dominantClass`, laid out
    /// as `layout` says; the other shapes are of any of the `classCount`
    /// classes, may overlap it, and may be cut by the image border.
    public static func random(
        size: Int, dominantClass: Int, classCount: Int, layout: SceneLayout = .cluttered,
        using rng: inout RandomGenerator
    ) -> SyntheticScene {
        let side = Double(size)
        let background = randomBackground(size: side, patterns: layout.backgroundPatterns, using: &rng)
        let dominant = randomObject(
            classIndex: dominantClass, radius: side * draw(layout.dominantRadius, &rng),
            centerX: side * draw(layout.dominantCenter, &rng), centerY: side * draw(layout.dominantCenter, &rng),
            side: side, background: background, patterns: layout.shapePatterns, using: &rng)
        let count = layout.distractorCount.lowerBound + rng.nextInt(below: layout.distractorCount.count)
        var objects = (0..<count).map { _ in
            randomObject(
                classIndex: rng.nextInt(below: classCount), radius: side * draw(layout.distractorRadius, &rng),
                centerX: side * rng.nextDouble(), centerY: side * rng.nextDouble(), side: side, background: background,
                patterns: layout.shapePatterns, using: &rng)
        }
        let depth = rng.nextInt(below: count + 1)
        objects.insert(dominant, at: depth)
        return SyntheticScene(size: size, background: background, objects: objects, dominantIndex: depth)
    }

    /// The same scene with the dominant shape painted last (on top of all others).
    public func dominantOnTop() -> SyntheticScene {
        var scene = self
        let dominant = scene.objects.remove(at: dominantIndex)
        scene.objects.append(dominant)
        scene.dominantIndex = scene.objects.count - 1
        return scene
    }

    /// The same scene with only the dominant shape.
    public func dominantOnly() -> SyntheticScene {
        SyntheticScene(size: size, background: background, objects: [objects[dominantIndex]], dominantIndex: 0)
    }

    private static func draw(_ range: ClosedRange<Double>, _ rng: inout RandomGenerator) -> Double {
        range.lowerBound + rng.nextDouble() * (range.upperBound - range.lowerBound)
    }

    private static func randomBackground(
        size: Double, patterns: [SceneTexture.Pattern], using rng: inout RandomGenerator
    ) -> SceneTexture {
        let pattern = patterns[rng.nextInt(below: patterns.count)]
        let hue = rng.nextDouble()
        let first = SceneColor(
            hue: hue, saturation: draw(0.1...0.6, &rng), value: draw(0.25...0.95, &rng))
        let second = SceneColor(
            hue: hue + draw(-0.35...0.35, &rng), saturation: draw(0.1...0.6, &rng), value: draw(0.25...0.95, &rng))
        return SceneTexture(
            pattern: pattern, first: first, second: second, angle: draw(0...(2 * Double.pi), &rng),
            period: size * draw(0.08...0.3, &rng), phase: size * rng.nextDouble(), extent: size * 0.71,
            noiseSeed: rng.next())
    }

    private static func randomObject(
        classIndex: Int, radius: Double, centerX: Double, centerY: Double, side: Double, background: SceneTexture,
        patterns: [SceneTexture.Pattern], using rng: inout RandomGenerator
    ) -> SceneObject {
        let kind = ShapeKind.allCases[classIndex]
        let angle = kind.isRotationInvariant ? 0 : draw(0...(2 * Double.pi), &rng)
        let aspect = kind == .ellipse ? draw(0.45...0.7, &rng) : 1
        let pattern = patterns[rng.nextInt(below: patterns.count)]
        let backdrop = background.color(x: centerX - side / 2, y: centerY - side / 2)
        var first = SceneColor(hue: 0, saturation: 0, value: 0)
        for _ in 0..<8 {
            first = SceneColor(hue: rng.nextDouble(), saturation: draw(0.45...1, &rng), value: draw(0.4...1, &rng))
            if first.distance(to: backdrop) >= 110 { break }
        }
        let second =
            rng.nextDouble() < 0.5
            ? first.mixed(with: SceneColor(red: 0, green: 0, blue: 0), draw(0.25...0.5, &rng))
            : first.mixed(with: SceneColor(red: 255, green: 255, blue: 255), draw(0.25...0.5, &rng))
        let texture = SceneTexture(
            pattern: pattern, first: first, second: second, angle: draw(0...(2 * Double.pi), &rng),
            period: max(2.5, radius * draw(0.4...0.9, &rng)), phase: radius * rng.nextDouble(), extent: radius,
            noiseSeed: rng.next())
        return SceneObject(
            kind: kind, classIndex: classIndex, centerX: centerX, centerY: centerY, radius: radius, angle: angle,
            aspect: aspect, texture: texture)
    }
}

/// A scene drawn as pixels, with who owns each pixel.
///
/// Each pixel is sampled on a 3x3 grid: its colour is the average of the
/// colours of the sub-samples' owners (anti-aliased edges), and its owner is
/// the owner of the central sub-sample. A pixel is on a border when its
/// sub-samples do not all have the same owner.
public struct RenderedScene: Sendable {
    public var image: Image
    /// Per pixel, row-major: 0 for the background, i + 1 for `objects[i]`.
    public var owners: [UInt8]
    /// Per pixel: whether it straddles a boundary between owners.
    public var isBorder: [Bool]

    /// Visible pixels of each object (owner i + 1).
    public func visibleAreas(objectCount: Int) -> [Int] {
        var areas = [Int](repeating: 0, count: objectCount + 1)
        for owner in owners { areas[Int(owner)] += 1 }
        return Array(areas.dropFirst())
    }
}

extension SyntheticScene {
    /// Sub-samples per pixel along each axis.
    public static let subsamples = 3

    /// Paints the scene.
    public func render() -> RenderedScene {
        precondition(objects.count < 255, "a scene holds at most 254 objects")
        let n = Self.subsamples
        let fine = size * n
        var subOwners = [UInt8](repeating: 0, count: fine * fine)
        for (index, object) in objects.enumerated() {
            let reach = object.radius * ShapeKind.boundingRadius + 1
            let low = { (c: Double) in max(0, Int(((c - reach) * Double(n)).rounded(.down))) }
            let high = { (c: Double) in min(fine - 1, Int(((c + reach) * Double(n)).rounded(.up))) }
            let (x0, x1, y0, y1) = (
                low(object.centerX), high(object.centerX), low(object.centerY), high(object.centerY)
            )
            guard x0 <= x1, y0 <= y1 else { continue }
            let owner = UInt8(index + 1)
            for sy in y0...y1 {
                let y = (Double(sy) + 0.5) / Double(n)
                for sx in x0...x1 where object.contains(x: (Double(sx) + 0.5) / Double(n), y: y) {
                    subOwners[sy * fine + sx] = owner
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        var owners = [UInt8](repeating: 0, count: size * size)
        var isBorder = [Bool](repeating: false, count: size * size)
        var counts = [Int](repeating: 0, count: objects.count + 1)
        var present: [Int] = []
        present.reserveCapacity(n * n)
        for py in 0..<size {
            for px in 0..<size {
                present.removeAll(keepingCapacity: true)
                for sy in 0..<n {
                    for sx in 0..<n {
                        let owner = Int(subOwners[(py * n + sy) * fine + px * n + sx])
                        if counts[owner] == 0 { present.append(owner) }
                        counts[owner] += 1
                    }
                }
                let (x, y) = (Double(px) + 0.5, Double(py) + 0.5)
                var (r, g, b) = (0.0, 0.0, 0.0)
                for owner in present {
                    let color = self.color(owner: owner, x: x, y: y)
                    let weight = Double(counts[owner]) / Double(n * n)
                    r += color.red * weight
                    g += color.green * weight
                    b += color.blue * weight
                    counts[owner] = 0
                }
                let pixel = py * size + px
                owners[pixel] = subOwners[(py * n + n / 2) * fine + px * n + n / 2]
                isBorder[pixel] = present.count > 1
                pixels[pixel * 3] = Self.byte(r)
                pixels[pixel * 3 + 1] = Self.byte(g)
                pixels[pixel * 3 + 2] = Self.byte(b)
            }
        }
        let image = try! Image(width: size, height: size, channels: 3, pixels: pixels)
        return RenderedScene(image: image, owners: owners, isBorder: isBorder)
    }

    private func color(owner: Int, x: Double, y: Double) -> SceneColor {
        guard owner > 0 else {
            let half = Double(size) / 2
            return background.color(x: x - half, y: y - half)
        }
        let object = objects[owner - 1]
        let (u, v) = object.local(x: x, y: y)
        return object.texture.color(x: u, y: v)
    }

    private static func byte(_ value: Double) -> UInt8 { UInt8(max(0, min(255, value.rounded()))) }
}
