import MixKit

/// How a token grid is padded at the bottom and right so that its windows
/// tile it, and how the padded tokens are kept out of attention.
///
/// Padded tokens get their own group id (``paddedGroup``), as the two source
/// images of a MixMAE batch have theirs: the stage sorts each window's tokens
/// by group and attention runs within each group (``WindowLayout``), so a
/// real token never attends to a padded one, whatever the padded tokens hold.
/// The stage crops the padding away after its blocks, so no padded token
/// reaches the output.
///
/// ```swift
/// let plan = GridPadding(height: 25, width: 38, window: 7)   // pads to 28 x 42
/// let padded = plan.pad(tokens)                               // [B, 28*42, C]
/// ```
package struct GridPadding: Equatable {
    /// The grid's real size.
    var height: Int
    var width: Int
    /// Rows added at the bottom and columns at the right.
    var bottom: Int
    var right: Int

    /// The group id of padded tokens (real tokens use 0 and 1).
    static let paddedGroup: UInt8 = 255

    /// The smallest padding that makes `window` tile the grid.
    package init(height: Int, width: Int, window: Int) {
        self.init(
            height: height, width: width, bottom: (window - height % window) % window,
            right: (window - width % window) % window)
    }

    package init(height: Int, width: Int, bottom: Int, right: Int) {
        self.height = height
        self.width = width
        self.bottom = bottom
        self.right = right
    }

    var paddedHeight: Int { height + bottom }
    var paddedWidth: Int { width + right }
    /// True when the grid needs no padding (the fast path: no extra work).
    var isEmpty: Bool { bottom == 0 && right == 0 }

    /// `x` `[B, H*W, C]` row-major to `[B, H'*W', C]` with `fill` in the new tokens.
    package func pad(_ x: Tensor, fill: Float = 0) -> Tensor {
        if isEmpty { return x }
        let (b, c) = (x.shape[0], x.shape[2])
        var grid = x.reshaped([b, height, width, c])
        if right > 0 { grid = concatenate([grid, Tensor.full([b, height, right, c], fill)], axis: 2) }
        if bottom > 0 { grid = concatenate([grid, Tensor.full([b, bottom, paddedWidth, c], fill)], axis: 1) }
        return grid.reshaped([b, paddedHeight * paddedWidth, c])
    }

    /// The inverse of ``pad(_:fill:)``: `[B, H'*W', C]` back to the real `[B, H*W, C]`.
    package func crop(_ x: Tensor) -> Tensor {
        if isEmpty { return x }
        let (b, c) = (x.shape[0], x.shape[2])
        return x.reshaped([b, paddedHeight, paddedWidth, c]).slice(axis: 1, 0..<height).slice(axis: 2, 0..<width)
            .reshaped([b, height * width, c])
    }

    /// Group ids over the padded grid, row-major: `groups` (the real grid's, or
    /// all 0 without mixing) for real tokens, ``paddedGroup`` for padded ones.
    func groups(_ groups: [UInt8]?) -> [UInt8] {
        var out = [UInt8](repeating: Self.paddedGroup, count: paddedHeight * paddedWidth)
        for y in 0..<height {
            for x in 0..<width { out[y * paddedWidth + x] = groups?[y * width + x] ?? 0 }
        }
        return out
    }
}

/// Pads images `[B, C, H, W]` with zeros at the bottom and right to multiples
/// of `multiple` (Swin's patch embedding at sizes the patch does not divide).
func padImages(_ images: Tensor, toMultipleOf multiple: Int) -> Tensor {
    let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    let (bottom, right) = ((multiple - h % multiple) % multiple, (multiple - w % multiple) % multiple)
    var x = images
    if right > 0 { x = concatenate([x, Tensor.zeros([b, c, h, right])], axis: 3) }
    if bottom > 0 { x = concatenate([x, Tensor.zeros([b, c, bottom, w + right])], axis: 2) }
    return x
}

/// The fixed `[1, L, C]` position table of a `side` x `side` grid resized to
/// `height` x `width` with PyTorch's bicubic kernel, as timm and mmdetection
/// do when a Swin runs at another size than its table's.
func resizedPositionTable(_ table: Tensor, side: Int, height: Int, width: Int) -> Tensor {
    if side == height && side == width { return table }
    let c = table.shape[2]
    let planes = table.reshaped([1, side, side, c]).permuted([0, 3, 1, 2])
    return bicubicResize(planes, height: height, width: width).permuted([0, 2, 3, 1]).reshaped([1, height * width, c])
}
