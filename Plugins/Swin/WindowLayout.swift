import MixKit

/// Where a stage's tokens sit while its blocks run: window after window, and,
/// when the tokens come in groups (the source images of a mixed batch, or
/// padding), sorted by group inside each window so that each group is one run
/// of tokens for ``multiHeadAttention(qkv:heads:scale:bias:spans:)``.
///
/// ```swift
/// let layout = WindowLayout(window: 7, height: 14, width: 14, groups: ids)
/// var h = layout.order(x)          // [B, 14, 14, C] -> [B, 196, C] in window order
/// h = block(h, layout: layout)
/// let grid = layout.restore(h)     // [B, 196, C] row-major again
/// ```
struct WindowLayout {
    let window: Int
    let height: Int
    let width: Int
    /// The groups' runs in every window, when there are groups.
    let spans: AttentionSpans?
    /// For each token in layout order (of one image), its index in the row-major grid.
    let gridIndex: [Int]?
    /// For each token of the row-major grid, its index in layout order (the inverse of ``gridIndex``).
    let layoutIndex: [Int]?
    /// For every window position (of one image), the place in the window of each of its sorted tokens, in
    /// order: what ``relativePositionBias(table:window:order:)`` takes. Empty without groups.
    let tokenPlaces: [Int]

    var windowsPerImage: Int { (height / window) * (width / window) }

    /// `groups` `[height * width]` row-major (one id per token of one image), if any.
    init(window: Int, height: Int, width: Int, groups: [UInt8]?) {
        precondition(height % window == 0 && width % window == 0, "WindowLayout: \(height)x\(width) grid")
        (self.window, self.height, self.width) = (window, height, width)
        guard let groups else {
            (spans, gridIndex, layoutIndex, tokenPlaces) = (nil, nil, nil, [])
            return
        }
        let n = window * window
        let places = Self.windowOrder(window: window, height: height, width: width)
        let (order, spans) = AttentionSpans.sortingWindows(groups: places.map { groups[$0] }, tokens: n)
        self.spans = spans
        let gridIndex = order.indices.map { places[$0 / n * n + order[$0]] }
        var layoutIndex = [Int](repeating: 0, count: gridIndex.count)
        for (place, grid) in gridIndex.enumerated() { layoutIndex[grid] = place }
        (self.gridIndex, self.layoutIndex) = (gridIndex, layoutIndex)
        tokenPlaces = order
    }

    /// `[B, H, W, C]` to `[B, H*W, C]` in layout order.
    func order(_ x: Tensor) -> Tensor {
        let (b, c) = (x.shape[0], x.shape[3])
        if let gridIndex { return x.reshaped([b, height * width, c]).indexSelect(axis: 1, indices: gridIndex) }
        if height == window && width == window { return x.reshaped([b, height * width, c]) }
        return x.reshaped([b, height / window, window, width / window, window, c]).permuted([0, 1, 3, 2, 4, 5])
            .reshaped([b, height * width, c])
    }

    /// The inverse of ``order(_:)``: `[B, H*W, C]` in layout order back to row-major.
    func restore(_ x: Tensor) -> Tensor {
        let (b, c) = (x.shape[0], x.shape[2])
        if let layoutIndex { return x.indexSelect(axis: 1, indices: layoutIndex) }
        if height == window && width == window { return x }
        return x.reshaped([b, height / window, width / window, window, window, c]).permuted([0, 1, 3, 2, 4, 5])
            .reshaped([b, height * width, c])
    }

    /// Row-major grid indices window after window, each window row-major.
    static func windowOrder(window w: Int, height: Int, width: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(height * width)
        for wy in 0..<(height / w) {
            for wx in 0..<(width / w) {
                for iy in 0..<w {
                    for ix in 0..<w { out.append((wy * w + iy) * width + wx * w + ix) }
                }
            }
        }
        return out
    }
}
