import Foundation

/// The kinds of shape the synthetic scenes are made of; a dataset with K
/// classes uses the first K, in this order (their raw values are the class names).
///
/// Each kind is defined in a unit frame: the shape fits in a disc of radius
/// ``boundingRadius`` around the origin, `v` pointing down.
///
/// ```swift
/// ShapeKind.star.contains(0, 0, aspect: 1)     // true: the centre
/// ShapeKind.ring.contains(0, 0, aspect: 1)     // false: the hole
/// ```
public enum ShapeKind: String, CaseIterable, Sendable {
    case circle, square, triangle, star, ring, cross, ellipse, hexagon, crescent, heart

    /// The most classes a synthetic dataset can have.
    public static var maximumClassCount: Int { allCases.count }

    /// Radius of a disc around the origin that holds the shape in its unit frame.
    public static let boundingRadius = 1.15

    /// Whether rotating the shape changes nothing (then scenes do not rotate it).
    public var isRotationInvariant: Bool { self == .circle || self == .ring }

    /// Whether (`u`, `v`) in the unit frame is inside the shape; `aspect` is the
    /// ellipse's minor to major axis ratio (ignored by other kinds).
    public func contains(_ u: Double, _ v: Double, aspect: Double) -> Bool {
        switch self {
        case .circle:
            return u * u + v * v <= 1
        case .square:
            return abs(u) <= 0.8 && abs(v) <= 0.8
        case .triangle:
            return Self.insideRegularPolygon(u, v, normals: Self.triangleNormals, apothem: 1.15 * 0.5)
        case .star:
            return Self.insideStar(u, v)
        case .ring:
            let r2 = u * u + v * v
            return r2 <= 1 && r2 >= 0.55 * 0.55
        case .cross:
            let (a, b) = (abs(u), abs(v))
            return (a <= 0.3 && b <= 1) || (b <= 0.3 && a <= 1)
        case .ellipse:
            let w = v / aspect
            return u * u + w * w <= 1
        case .hexagon:
            return Self.insideRegularPolygon(
                u, v, normals: Self.hexagonNormals, apothem: 1.05 * 0.866_025_403_784_438_6)
        case .crescent:
            let du = u - 0.4
            return u * u + v * v <= 1 && du * du + v * v > 0.64
        case .heart:
            let x = 1.15 * u
            let y = -1.15 * v + 0.15
            let a = x * x + y * y - 1
            return a * a * a - x * x * y * y * y <= 0
        }
    }

    private static func edgeNormals(_ sides: Int) -> [(Double, Double)] {
        (0..<sides).map { k in
            let angle = Double(2 * k + 1) * Double.pi / Double(sides) - Double.pi / 2
            return (cos(angle), sin(angle))
        }
    }

    private static let triangleNormals = edgeNormals(3)
    private static let hexagonNormals = edgeNormals(6)

    private static func insideRegularPolygon(_ u: Double, _ v: Double, normals: [(Double, Double)], apothem: Double)
        -> Bool
    {
        for (nx, ny) in normals where u * nx + v * ny > apothem { return false }
        return true
    }

    /// Five points: outer radius 1.1, inner 0.45, straight edges.
    private static func insideStar(_ u: Double, _ v: Double) -> Bool {
        let outer = 1.1
        let inner = 0.45
        let sector = 2 * Double.pi / 5
        let r = (u * u + v * v).squareRoot()
        if r <= inner * cos(Double.pi / 5) { return true }
        if r > outer { return false }
        var angle = atan2(v, u) + Double.pi / 2
        angle = angle - sector * (angle / sector).rounded(.down)
        if angle > sector / 2 { angle = sector - angle }
        let (qx, qy) = (r * cos(angle), r * sin(angle))
        let (bx, by) = (inner * cos(Double.pi / 5), inner * sin(Double.pi / 5))
        return (bx - outer) * qy - by * (qx - outer) >= 0
    }
}
