import CKernels

/// Group normalisation (PyTorch's `F.group_norm`): the channels of `x`
/// `[B, C, ...]` are split into `groups` groups of `C / groups` channels;
/// each (sample, group) is normalised over its channels and positions with
/// the biased variance, then scaled and shifted per channel by `weight` and
/// `bias` `[C]`.
///
/// ```swift
/// let y = groupNorm(x, groups: 32, weight: gamma, bias: beta)   // x [B, 256, H, W]
/// ```
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 2, "groupNorm: input must be [B, C, ...], got \(x.shape)")
    let (b, c) = (x.shape[0], x.shape[1])
    precondition(
        groups >= 1 && c % groups == 0, "groupNorm: \(c) channels of \(x.shape) are not divisible into \(groups) groups"
    )
    if let weight { precondition(weight.shape == [c], "groupNorm: weight \(weight.shape) does not fit \(c) channels") }
    if let bias { precondition(bias.shape == [c], "groupNorm: bias \(bias.shape) does not fit \(c) channels") }
    let positions = x.shape[2...].reduce(1, *)
    let perGroup = c / groups
    let rows = b * groups
    let y = Tensor(uninitializedShape: x.shape)
    let mean = Tensor(uninitializedShape: [rows])
    let rstd = Tensor(uninitializedShape: [rows])
    let pw: UnsafePointer<Float>? = weight.map { UnsafePointer($0.data) }
    let pb: UnsafePointer<Float>? = bias.map { UnsafePointer($0.data) }
    Parallel.forRanges(rows, work: x.count * 3) { lo, hi in
        mk_group_norm(x.data, pw, pb, y.data, mean.data, rstd.data, lo, hi, groups, perGroup, positions, eps)
    }
    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    return y.recording("group_norm", inputs) { g in
        let gx: Tensor? = x.needsGrad ? Tensor(uninitializedShape: x.shape) : nil
        let wantW = weight?.needsGrad ?? false
        let wantB = bias?.needsGrad ?? false
        let chunks = x.count >= Parallel.minimumParallelWork ? Swift.min(Parallel.threadCount, rows) : 1
        // Per-chunk partial sums of the weight and bias gradients, added at the end.
        let partW = wantW ? Tensor.zeros([chunks, c]) : nil
        let partB = wantB ? Tensor.zeros([chunks, c]) : nil
        Parallel.forRanges(chunks, work: Int.max) { c0, c1 in
            for chunk in c0..<c1 {
                mk_group_norm_backward(
                    x.data, pw, mean.data, rstd.data, g.data, gx?.data, partW.map { $0.data + chunk * c },
                    partB.map { $0.data + chunk * c }, rows * chunk / chunks, rows * (chunk + 1) / chunks, groups,
                    perGroup, positions)
            }
        }
        var grads: [Tensor?] = [gx]
        if weight != nil { grads.append(partW.map { reduceSumKernel($0, axes: [0]).reshapedView([c]) }) }
        if bias != nil { grads.append(partB.map { reduceSumKernel($0, axes: [0]).reshapedView([c]) }) }
        return grads
    }
}
