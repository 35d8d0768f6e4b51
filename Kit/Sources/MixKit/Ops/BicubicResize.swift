/// Resizes the last two axes of `x` `[..., H, W]` to `height` x `width` with
/// PyTorch's bicubic kernel (`F.interpolate(x, size=..., mode="bicubic",
/// align_corners=False)`, cubic convolution with A = -0.75, edge samples
/// clamped to the border), for tables loaded from a checkpoint: the
/// relative-position-bias and position-embedding tables of a backbone whose
/// window or grid changed. The result is a new constant tensor (no gradient).
///
/// The source coordinate of output index `i` is `(i + 0.5) * in / out - 0.5`
/// (not clamped, as PyTorch's cubic path); its integer part is clamped to
/// `in - 1` and the fraction to `0...1`, as PyTorch's `guard_index_and_lambda`.
///
/// ```swift
/// // A [(2*14-1)^2, heads] bias table to window 24, as MixMIM's interpolate_pos_embed.
/// let planes = table.transposed().reshaped([1, heads, 27, 27])
/// let resized = bicubicResize(planes, height: 47, width: 47)   // [1, heads, 47, 47]
/// ```
public func bicubicResize(_ x: Tensor, height: Int, width: Int) -> Tensor {
    precondition(x.rank >= 2, "bicubicResize: the input needs at least 2 axes, got \(x.shape)")
    precondition(height >= 1 && width >= 1, "bicubicResize: output size \(height)x\(width) must be positive")
    let (inH, inW) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    let planes = x.shape.dropLast(2).reduce(1, *)
    let rows = BicubicTaps(input: inH, output: height)
    let cols = BicubicTaps(input: inW, output: width)
    let source = x.scalars
    var out = [Float](repeating: 0, count: planes * height * width)
    for p in 0..<planes {
        let base = p * inH * inW
        for oy in 0..<height {
            for ox in 0..<width {
                var sum: Float = 0
                for ty in 0..<4 {
                    let row = base + rows.index[oy * 4 + ty] * inW
                    var line: Float = 0
                    for tx in 0..<4 { line += source[row + cols.index[ox * 4 + tx]] * cols.weight[ox * 4 + tx] }
                    sum += line * rows.weight[oy * 4 + ty]
                }
                out[(p * height + oy) * width + ox] = sum
            }
        }
    }
    return Tensor(shape: Array(x.shape.dropLast(2)) + [height, width], scalars: out)
}

/// The four clamped source indices and cubic-convolution weights of every output index along one axis.
struct BicubicTaps {
    var index: [Int]
    var weight: [Float]

    init(input: Int, output: Int) {
        let scale = Float(input) / Float(output)
        index = []
        weight = []
        index.reserveCapacity(4 * output)
        weight.reserveCapacity(4 * output)
        for i in 0..<output {
            let real = scale * (Float(i) + 0.5) - 0.5
            let floorIndex = min(Int(real.rounded(.down)), input - 1)
            let t = min(max(real - Float(floorIndex), 0), 1)
            let w = Self.coefficients(t)
            for k in 0..<4 {
                index.append(min(max(floorIndex - 1 + k, 0), input - 1))
                weight.append(w[k])
            }
        }
    }

    /// PyTorch's `get_cubic_upsample_coefficients` with A = -0.75.
    static func coefficients(_ t: Float) -> [Float] {
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        let opposite = 1 - t
        return [far(t + 1), near(t), near(opposite), far(opposite + 1)]
    }
}
