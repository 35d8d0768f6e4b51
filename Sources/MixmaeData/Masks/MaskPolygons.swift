/// COCO polygons of a binary mask: the outline of every 4-connected region of
/// foreground pixels, traced along the pixel edges, with vertices at pixel corners.
///
/// pycocotools' `rleFrPoly` (``RunLengthMask/init(polygon:height:width:)``) puts a pixel
/// inside a polygon when its centre is; an outline along pixel edges therefore rasterises
/// back to exactly the traced pixels. A region with holes (a ring, an object with an
/// occluder inside it) is one "keyhole" polygon: its outer outline, then for each hole a
/// zero-width cut from the outline's first corner to the hole, the hole's outline, and
/// the cut back. The rasteriser counts crossings modulo 2, so the cut's two traversals
/// cancel and the hole stays empty. Regions touching only at a corner are separate
/// polygons, so one object split by occluders gives several.
///
/// ```swift
/// let polygons = MaskPolygons.trace(mask, height: 4, width: 6)   // [[x0, y0, x1, y1, ...], ...]
/// let back = RunLengthMask.merge(polygons.map { RunLengthMask(polygon: $0, height: 4, width: 6) })
/// back.decoded() == mask.map { $0 != 0 ? 1 : 0 }                // true
/// ```
public enum MaskPolygons {
    /// The polygons of `mask` (row-major, `mask[y * width + x]`, nonzero = foreground),
    /// one per 4-connected region, in the order of each region's first pixel (row-major);
    /// collinear corners are dropped. Empty for an empty mask.
    public static func trace(_ mask: [UInt8], height: Int, width: Int) -> [[Double]] {
        precondition(mask.count == height * width, "MaskPolygons: \(mask.count) pixels for a \(height)x\(width) mask")
        let grid = PixelGrid(mask: mask, height: height, width: width)
        let loops = grid.outlineLoops()
        var outer: [Int: [Corner]] = [:]
        var holes: [Int: [[Corner]]] = [:]
        var order: [Int] = []
        for loop in loops {
            if loop.signedArea > 0 {
                outer[loop.region] = loop.corners
                order.append(loop.region)
            } else {
                holes[loop.region, default: []].append(loop.corners)
            }
        }
        order.sort()
        return order.map { region in
            keyhole(outer: outer[region]!, holes: holes[region] ?? []).flatMap { [Double($0.x), Double($0.y)] }
        }
    }

    /// The outer outline, then for every hole: back to the outline's first corner, across to
    /// the hole's corner nearest to it, around the hole, and back to that corner.
    static func keyhole(outer: [Corner], holes: [[Corner]]) -> [Corner] {
        guard let anchor = outer.first else { return [] }
        var points = outer
        for hole in holes {
            let entry = hole.indices.min {
                hole[$0].squaredDistance(to: anchor) < hole[$1].squaredDistance(to: anchor)
            }!
            points.append(anchor)
            points += hole[entry...] + hole[..<entry]
            points.append(hole[entry])
        }
        return points
    }

    /// A pixel corner: `x` in 0...width, `y` in 0...height.
    struct Corner: Equatable {
        var x: Int
        var y: Int

        func squaredDistance(to other: Corner) -> Int {
            (x - other.x) * (x - other.x) + (y - other.y) * (y - other.y)
        }
    }

    /// One closed outline: its corners, the region whose pixels it bounds, and its
    /// area with sign (positive: an outer outline; negative: a hole).
    struct Loop {
        var corners: [Corner]
        var region: Int
        var signedArea: Int
    }

    /// The mask with its 4-connected regions numbered and its boundary as directed unit
    /// edges that keep the foreground on their right (clockwise on screen, y down).
    struct PixelGrid {
        let height: Int
        let width: Int
        let foreground: [Bool]
        /// Per pixel: its region's number (in row-major order of first pixels), or -1.
        let regions: [Int]

        /// Edge directions, clockwise on screen: +x, +y, -x, -y.
        static let steps = [(1, 0), (0, 1), (-1, 0), (0, -1)]

        init(mask: [UInt8], height: Int, width: Int) {
            self.height = height
            self.width = width
            foreground = mask.map { $0 != 0 }
            var regions = [Int](repeating: -1, count: mask.count)
            var count = 0
            for start in regions.indices where foreground[start] && regions[start] < 0 {
                regions[start] = count
                var stack = [start]
                while let pixel = stack.popLast() {
                    let (x, y) = (pixel % width, pixel / width)
                    for (dx, dy) in Self.steps {
                        let (nx, ny) = (x + dx, y + dy)
                        guard nx >= 0, ny >= 0, nx < width, ny < height else { continue }
                        let next = ny * width + nx
                        if foreground[next] && regions[next] < 0 {
                            regions[next] = count
                            stack.append(next)
                        }
                    }
                }
                count += 1
            }
            self.regions = regions
        }

        func isForeground(_ x: Int, _ y: Int) -> Bool {
            x >= 0 && y >= 0 && x < width && y < height && foreground[y * width + x]
        }

        /// The pixel on the right of the edge leaving `corner` in `direction`.
        func pixelRight(of corner: Corner, direction: Int) -> (x: Int, y: Int) {
            switch direction {
            case 0: return (corner.x, corner.y)
            case 1: return (corner.x - 1, corner.y)
            case 2: return (corner.x - 1, corner.y - 1)
            default: return (corner.x, corner.y - 1)
            }
        }

        /// Every closed outline, in the order of its first edge (row-major pixels, then
        /// top, right, bottom, left). Where two edges leave one corner (regions touching
        /// diagonally), the walk turns right, so it stays with the pixel it follows.
        func outlineLoops() -> [Loop] {
            struct Edge {
                var start: Corner
                var direction: Int
            }
            var edges: [Edge] = []
            var leaving: [Int: [Int]] = [:]
            func add(_ x: Int, _ y: Int, _ direction: Int) {
                leaving[y * (width + 1) + x, default: []].append(edges.count)
                edges.append(Edge(start: Corner(x: x, y: y), direction: direction))
            }
            for y in 0..<height {
                for x in 0..<width where foreground[y * width + x] {
                    if !isForeground(x, y - 1) { add(x, y, 0) }
                    if !isForeground(x + 1, y) { add(x + 1, y, 1) }
                    if !isForeground(x, y + 1) { add(x + 1, y + 1, 2) }
                    if !isForeground(x - 1, y) { add(x, y + 1, 3) }
                }
            }
            var used = [Bool](repeating: false, count: edges.count)
            var loops: [Loop] = []
            for first in edges.indices where !used[first] {
                var corners: [Corner] = []
                var current = first
                repeat {
                    used[current] = true
                    let edge = edges[current]
                    let (dx, dy) = Self.steps[edge.direction]
                    let end = Corner(x: edge.start.x + dx, y: edge.start.y + dy)
                    let candidates = leaving[end.y * (width + 1) + end.x] ?? []
                    let turns = [(edge.direction + 1) % 4, edge.direction, (edge.direction + 3) % 4]
                    let next = turns.lazy.compactMap { turn in
                        candidates.first { edges[$0].direction == turn && ($0 == first || !used[$0]) }
                    }.first
                    guard let next else { preconditionFailure("MaskPolygons: an outline does not close") }
                    if edges[next].direction != edge.direction { corners.append(end) }
                    current = next
                } while current != first
                // The walk records a corner where it turns: rotate so the loop starts at the first edge's start.
                if let last = corners.last, last == edges[first].start {
                    corners.removeLast()
                    corners.insert(last, at: 0)
                }
                let pixel = pixelRight(of: edges[first].start, direction: edges[first].direction)
                var twiceArea = 0
                for i in corners.indices {
                    let (a, b) = (corners[i], corners[(i + 1) % corners.count])
                    twiceArea += a.x * b.y - b.x * a.y
                }
                loops.append(
                    Loop(corners: corners, region: regions[pixel.y * width + pixel.x], signedArea: twiceArea / 2))
            }
            return loops
        }
    }
}
