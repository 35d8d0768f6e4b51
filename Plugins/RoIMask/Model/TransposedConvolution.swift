import MixKit

/// A transposed convolution whose kernel equals its stride (PyTorch's
/// `nn.ConvTranspose2d(c_in, c_out, kernel_size=k, stride=k)`): every input
/// pixel paints its own `k x k` block, so it is one matrix product and a
/// reshuffle of axes, composed from differentiable ops. `weight` is
/// `[c_in, c_out, k, k]` and `bias` `[c_out]`, as PyTorch stores them.
///
/// ```swift
/// let up = TransposedConvolution(256, 256, factor: 2, rng: rng)
/// let y = up(x)   // [n, 256, 14, 14] -> [n, 256, 28, 28]
/// ```
package final class TransposedConvolution: Module, UnaryLayer {
    package let weight: Tensor
    package let bias: Tensor

    package init(_ inChannels: Int, _ outChannels: Int, factor: Int, rng: RandomSource) {
        let bound = 1 / Float(max(outChannels * factor * factor, 1)).squareRoot()
        weight = Tensor.randomUniform([inChannels, outChannels, factor, factor], low: -bound, high: bound, using: rng)
            .asParameter()
        bias = Tensor.randomUniform([outChannels], low: -bound, high: bound, using: rng).asParameter()
        super.init()
    }

    package var factor: Int { weight.shape[2] }

    package func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(
            x.rank == 4 && x.shape[1] == weight.shape[0],
            "TransposedConvolution: expects [n, \(weight.shape[0]), h, w], got \(x.shape)")
        let (n, cIn, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cOut, k) = (weight.shape[1], factor)
        let rows = x.permuted([0, 2, 3, 1]).reshaped([n * h * w, cIn])
        let painted = matmul(rows, weight.reshaped([cIn, cOut * k * k]))
        let image = painted.reshaped([n, h, w, cOut, k, k]).permuted([0, 3, 1, 4, 2, 5]).reshaped([
            n, cOut, h * k, w * k,
        ])
        return image + bias.reshaped([1, cOut, 1, 1])
    }
}
