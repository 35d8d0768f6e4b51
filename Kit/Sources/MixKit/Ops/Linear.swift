/// `x @ weightᵀ + bias` over the last axis of `x`, as PyTorch's `F.linear`
/// (weight is `[out, in]`). The bias is added as the GEMM writes its output (no separate pass).
///
/// ```swift
/// let y = linear(x, weight: w, bias: b)   // x [B, N, in] -> [B, N, out]
/// ```
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    defineOp("linear", x, weight, bias) { op in
        let inFeatures = x.shape.last ?? 0
        op.require(
            weight.rank == 2 && weight.shape[1] == inFeatures,
            "weight \(weight.shape) does not fit input \(x.shape) (expects [out, \(inFeatures)])")
        let outFeatures = weight.shape[0]
        if let bias { op.requireShape(bias, [outFeatures], "bias") }
        let rows = x.count / Swift.max(inFeatures, 1)
        let y = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
        Profiler.countGEMM(m: rows, n: outFeatures, k: inFeatures)
        sgemm(
            x.data, weight.data, y.data, m: rows, n: outFeatures, k: inFeatures, transposeA: false, transposeB: true,
            bias: bias.map { UnsafePointer($0.data) })
        return OpResult(y) { g in
            // The input and weight gradients share no data: they run at the same time (``gemmConcurrently``).
            var products: [GEMMProduct] = []
            let gx = x.needsGrad ? Tensor(uninitializedShape: x.shape) : nil
            if let gx {
                Profiler.countGEMM(m: rows, n: inFeatures, k: outFeatures)
                products.append(
                    GEMMProduct(
                        g.data, weight.data, gx.data, m: rows, n: inFeatures, k: outFeatures, transposeA: false,
                        transposeB: false))
            }
            let gw = weight.needsGrad ? Tensor(uninitializedShape: weight.shape) : nil
            if let gw {
                Profiler.countGEMM(m: outFeatures, n: inFeatures, k: rows)
                products.append(
                    GEMMProduct(
                        g.data, x.data, gw.data, m: outFeatures, n: inFeatures, k: rows, transposeA: true,
                        transposeB: false))
            }
            gemmConcurrently(products)
            let gb =
                bias?.needsGrad == true
                ? reduceSumKernel(g.reshapedView([rows, outFeatures]), axes: [0]).reshapedView([outFeatures]) : nil
            return [gx, gw, gb]
        }
    }
}
