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
    defineOp("conv2d", x, weight, bias) { op in
        op.requireRank(x, 4, "input", layout: "[B, C, H, W]")
        op.require(
            weight.rank == 4 && weight.shape[1] == x.shape[1] && weight.shape[2] == weight.shape[3],
            "weight \(weight.shape) does not fit input \(x.shape) (expects [out, \(x.shape[1]), k, k])")
        op.require(
            stride >= 1 && padding >= 0 && dilation >= 1,
            "stride \(stride), padding \(padding) and dilation \(dilation) must be at least 1, 0 and 1")
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, k) = (weight.shape[0], weight.shape[2])
        if let bias { op.requireShape(bias, [o], "bias") }
        let ho = (h + 2 * padding - dilation * (k - 1) - 1) / stride + 1
        let wo = (w + 2 * padding - dilation * (k - 1) - 1) / stride + 1
        op.require(
            ho >= 1 && wo >= 1,
            "a \(k)x\(k) kernel (padding \(padding), dilation \(dilation)) does not fit a \(h)x\(w) input")
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
        Profiler.countGEMM(m: o, n: b * n, k: rows)
        sgemm(weight.data, cols.data, product.data, m: o, n: b * n, k: rows, transposeA: false, transposeB: false)
        let y = Tensor(uninitializedShape: [b, o, ho, wo])
        let pb: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
        Parallel.forRanges(o, work: y.count) { lo, hi in
            mk_channels_to_batch(product.data, pb, o, b, n, y.data, lo, hi)
        }
        return OpResult(y) { g in
            let wantBias = bias?.needsGrad ?? false
            let g2 = Tensor(uninitializedShape: [o, b * n])
            let gb: Tensor? = wantBias ? Tensor(uninitializedShape: [o]) : nil
            Parallel.forRanges(o, work: g.count) { lo, hi in
                mk_batch_to_channels(g.data, o, b, n, g2.data, gb?.data, lo, hi)
            }
            var gw: Tensor? = nil
            if weight.needsGrad {
                gw = Tensor(uninitializedShape: weight.shape)
                Profiler.countGEMM(m: o, n: rows, k: b * n)
                sgemm(g2.data, cols.data, gw!.data, m: o, n: rows, k: b * n, transposeA: false, transposeB: true)
            }
            var gx: Tensor? = nil
            if x.needsGrad {
                let gcols = Tensor(uninitializedShape: [rows, b * n])
                Profiler.countGEMM(m: rows, n: b * n, k: o)
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
            return [gx, gw, gb]
        }
    }
}
