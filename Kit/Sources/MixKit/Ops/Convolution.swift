import CKernels

/// 2-D convolution of `x` `[B, C, H, W]` with `weight` `[O, C, k, k]` (PyTorch's
/// `F.conv2d` with `groups=1` and a square kernel), plus an optional `bias` `[O]`.
///
/// The whole batch is unfolded once (im2col, `[C*k*k, B*Ho*Wo]`) and multiplied
/// by the weight in one GEMM; the unfolded input is kept for the backward pass.
/// `Ho = (H + 2*padding - dilation*(k-1) - 1) / stride + 1`, and likewise `Wo`.
///
/// ```swift
/// let y = conv2d(x, weight: w, bias: b, stride: 1, padding: 1)   // 3x3 "same" convolution
/// ```
public func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1
) -> Tensor {
    precondition(x.rank == 4, "conv2d: input must be [B, C, H, W], got \(x.shape)")
    precondition(
        weight.rank == 4 && weight.shape[1] == x.shape[1] && weight.shape[2] == weight.shape[3],
        "conv2d: weight \(weight.shape) does not fit input \(x.shape) (expects [out, \(x.shape[1]), k, k])")
    precondition(
        stride >= 1 && padding >= 0 && dilation >= 1,
        "conv2d: stride \(stride), padding \(padding), dilation \(dilation)")
    let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, k) = (weight.shape[0], weight.shape[2])
    if let bias { precondition(bias.shape == [o], "conv2d: bias \(bias.shape) does not fit \(o) output channels") }
    let ho = (h + 2 * padding - dilation * (k - 1) - 1) / stride + 1
    let wo = (w + 2 * padding - dilation * (k - 1) - 1) / stride + 1
    precondition(
        ho >= 1 && wo >= 1,
        "conv2d: a \(k)x\(k) kernel (padding \(padding), dilation \(dilation)) does not fit a \(h)x\(w) input")
    let n = ho * wo
    let rows = c * k * k
    let pointwise = k == 1 && stride == 1 && padding == 0
    // A 1x1 convolution of one image reads the input as it is: [C, H*W].
    let cols: Tensor
    if pointwise && b == 1 {
        cols = x.reshapedView([c, n])
    } else {
        cols = Tensor(uninitializedShape: [rows, b * n])
        let px = x.data
        let pc = cols.data
        Parallel.forRanges(c, work: cols.count) { lo, hi in
            mk_im2col(px, b, c, h, w, k, stride, padding, dilation, ho, wo, pc, lo, hi)
        }
    }
    Parallel.configure()
    let product = Tensor(uninitializedShape: [o, b * n])
    sgemm(weight.data, cols.data, product.data, m: o, n: b * n, k: rows, transposeA: false, transposeB: false)
    let y = Tensor(uninitializedShape: [b, o, ho, wo])
    let pb: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
    Parallel.forRanges(o, work: y.count) { lo, hi in
        mk_channels_to_batch(product.data, pb, o, b, n, y.data, lo, hi)
    }
    var inputs = [x, weight]
    if let bias { inputs.append(bias) }
    return y.recording("conv2d", inputs) { g in
        let wantBias = bias?.needsGrad ?? false
        let g2 = Tensor(uninitializedShape: [o, b * n])
        let gb: Tensor? = wantBias ? Tensor(uninitializedShape: [o]) : nil
        Parallel.forRanges(o, work: g.count) { lo, hi in
            mk_batch_to_channels(g.data, o, b, n, g2.data, gb?.data, lo, hi)
        }
        var gw: Tensor? = nil
        if weight.needsGrad {
            gw = Tensor(uninitializedShape: weight.shape)
            sgemm(g2.data, cols.data, gw!.data, m: o, n: rows, k: b * n, transposeA: false, transposeB: true)
        }
        var gx: Tensor? = nil
        if x.needsGrad {
            let gcols = Tensor(uninitializedShape: [rows, b * n])
            sgemm(weight.data, g2.data, gcols.data, m: rows, n: b * n, k: o, transposeA: true, transposeB: false)
            if pointwise && b == 1 {
                gx = gcols.reshapedView(x.shape)
            } else {
                let out = Tensor.zeros(x.shape)
                Parallel.forRanges(c, work: gcols.count) { lo, hi in
                    mk_col2im(gcols.data, b, c, h, w, k, stride, padding, dilation, ho, wo, out.data, lo, hi)
                }
                gx = out
            }
        }
        var grads: [Tensor?] = [gx, gw]
        if bias != nil { grads.append(gb) }
        return grads
    }
}
