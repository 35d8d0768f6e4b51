import CKernels

/// How ``interpolate(_:height:width:mode:alignCorners:)`` samples.
public enum InterpolationMode: String, Sendable, CaseIterable {
    /// PyTorch's `mode="nearest"`: output pixel `i` copies input `floor(i * in / out)`.
    case nearest
    /// PyTorch's `mode="bilinear"`.
    case bilinear
}

/// Resizes the last two axes of `x` `[B, C, H, W]` to `height` x `width`, as
/// PyTorch's `F.interpolate(x, size=(height, width), mode=..., align_corners=...)`.
/// With `alignCorners` false (the default, and mmdet/mmseg's), bilinear source
/// coordinates are `(i + 0.5) * in / out - 0.5`, clamped at 0; with true,
/// `i * (in - 1) / (out - 1)`. `alignCorners` does not apply to nearest.
///
/// ```swift
/// let up = interpolate(logits, height: 512, width: 512, mode: .bilinear)
/// let p4 = interpolate(p5, height: 16, width: 16, mode: .nearest)
/// ```
public func interpolate(
    _ x: Tensor, height: Int, width: Int, mode: InterpolationMode = .bilinear, alignCorners: Bool = false
) -> Tensor {
    defineOp("interpolate_\(mode.rawValue)", x) { op in
        op.requireRank(x, 4, "input", layout: "[B, C, H, W]")
        op.require(height >= 1 && width >= 1, "output size \(height)x\(width) must be positive")
        let (h, w) = (x.shape[2], x.shape[3])
        if h == height && w == width { return OpResult(x) }
        let planes = x.shape[0] * x.shape[1]
        let y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], height, width])
        let corners: Int32 = alignCorners ? 1 : 0
        Parallel.forRanges(planes, work: y.count * 4) { lo, hi in
            switch mode {
            case .bilinear: mk_resize_bilinear(x.data, h, w, height, width, corners, y.data, lo, hi)
            case .nearest: mk_resize_nearest(x.data, h, w, height, width, y.data, lo, hi)
            }
        }
        return OpResult(y) { g in
            let gx = Tensor.zeros(x.shape)
            Parallel.forRanges(planes, work: g.count * 4) { lo, hi in
                switch mode {
                case .bilinear: mk_resize_bilinear_backward(g.data, h, w, height, width, corners, gx.data, lo, hi)
                case .nearest: mk_resize_nearest_backward(g.data, h, w, height, width, gx.data, lo, hi)
                }
            }
            return [gx]
        }
    }
}

/// Average pooling of `x` `[B, C, H, W]` into a `height` x `width` grid of bins,
/// PyTorch's `F.adaptive_avg_pool2d`: bin `i` covers input rows
/// `floor(i * H / height) ..< ceil((i + 1) * H / height)` (bins may overlap).
///
/// ```swift
/// let pooled = adaptiveAvgPool2d(x, height: 6, width: 6)   // the pyramid pooling module's finest bins
/// ```
public func adaptiveAvgPool2d(_ x: Tensor, height: Int, width: Int) -> Tensor {
    defineOp("adaptive_avg_pool2d", x) { op in
        op.requireRank(x, 4, "input", layout: "[B, C, H, W]")
        op.require(height >= 1 && width >= 1, "output size \(height)x\(width) must be positive")
        let (h, w) = (x.shape[2], x.shape[3])
        let planes = x.shape[0] * x.shape[1]
        let y = Tensor(uninitializedShape: [x.shape[0], x.shape[1], height, width])
        Parallel.forRanges(planes, work: x.count) { lo, hi in
            mk_adaptive_avg_pool(x.data, h, w, height, width, y.data, lo, hi)
        }
        return OpResult(y) { g in
            let gx = Tensor.zeros(x.shape)
            Parallel.forRanges(planes, work: x.count) { lo, hi in
                mk_adaptive_avg_pool_backward(g.data, h, w, height, width, gx.data, lo, hi)
            }
            return [gx]
        }
    }
}
