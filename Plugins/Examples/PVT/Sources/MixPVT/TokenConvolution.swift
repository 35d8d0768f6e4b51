import MixKit

/// Where a `k x k` window with stride `s` and zero padding `p` reads on an
/// `height x width` token grid: for every output token and kernel position,
/// the input token's index, or `height * width` (a zero row) outside the grid.
///
/// ```swift
/// let plan = ConvolutionPlan(height: 8, width: 8, kernel: 3, stride: 2, padding: 1)
/// plan.outputHeight  // 4
/// ```
public struct ConvolutionPlan: Equatable {
    public var height: Int
    public var width: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    public init(height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public var outputHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernel) / stride + 1 }

    /// `[outputHeight * outputWidth * kernel * kernel]` indices into the padded token
    /// axis, ordered (output row, output column, kernel row, kernel column).
    ///
    /// With `groups`, a tap whose input token belongs to another group than the
    /// output token reads the zero row too: every output then depends only on
    /// input tokens of its own group (a group-aware convolution, at no extra cost).
    public func gatherIndices(groups: ConvolutionGroups? = nil) -> [Int] {
        if let groups {
            precondition(
                groups.input.count == height * width && groups.output.count == outputHeight * outputWidth,
                "ConvolutionPlan: \(groups.input.count) input and \(groups.output.count) output group ids for a "
                    + "\(height)x\(width) -> \(outputHeight)x\(outputWidth) convolution")
        }
        let zeroRow = height * width
        var indices: [Int] = []
        indices.reserveCapacity(outputHeight * outputWidth * kernel * kernel)
        for oy in 0..<outputHeight {
            for ox in 0..<outputWidth {
                let output = oy * outputWidth + ox
                for ky in 0..<kernel {
                    let iy = oy * stride - padding + ky
                    for kx in 0..<kernel {
                        let ix = ox * stride - padding + kx
                        let inside = iy >= 0 && iy < height && ix >= 0 && ix < width
                        var index = inside ? iy * width + ix : zeroRow
                        if inside, let groups, groups.input[index] != groups.output[output] { index = zeroRow }
                        indices.append(index)
                    }
                }
            }
        }
        return indices
    }

    /// The patches of `tokens` `[B, height * width, C]` as `[B, outH * outW, kernel * kernel, C]`
    /// (an im2col along the token axis; its gradient scatters back). With `groups`,
    /// taps that read another group's token read zeros (see ``gatherIndices(groups:)``).
    func patches(_ tokens: Tensor, groups: ConvolutionGroups? = nil) -> Tensor {
        let (b, n, c) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
        precondition(n == height * width, "ConvolutionPlan: \(n) tokens for a \(height)x\(width) grid")
        let padded = concatenate([tokens, Tensor.zeros([b, 1, c])], axis: 1)
        return padded.indexSelect(axis: 1, indices: gatherIndices(groups: groups))
            .reshaped([b, outputHeight * outputWidth, kernel * kernel, c])
    }
}

/// The source image (0 or 1) of every token on a convolution's input and output
/// grids, for a MixMAE-mixed batch: the mask nearest-upsampled to each grid.
///
/// An output token belongs to the mask unit of the input token its window is
/// anchored at (`oy * stride`, `ox * stride`); when every grid is a whole
/// multiple of the mask grid, that is the mask upsampled to the output grid,
/// also for a stride-2 convolution that halves the grid.
///
/// ```swift
/// let plan = ConvolutionPlan(height: 14, width: 14, kernel: 3, stride: 2, padding: 1)
/// let groups = ConvolutionGroups(mixing: mask, plan: plan)  // 14x14 input ids, 7x7 output ids
/// ```
public struct ConvolutionGroups: Equatable {
    public var input: [UInt8]
    public var output: [UInt8]

    public init(input: [UInt8], output: [UInt8]) {
        self.input = input
        self.output = output
    }

    public init(mixing: MixingMask, plan: ConvolutionPlan) {
        input = mixing.upsampled(height: plan.height, width: plan.width)
        output = mixing.upsampled(height: plan.outputHeight, width: plan.outputWidth)
    }
}

/// A 2-D convolution over a token grid, as PyTorch's `nn.Conv2d` with square
/// kernel, stride and zero padding: `weight` is `[out, in / groups, k, k]`.
///
/// Full convolutions (`groups == 1`) are an im2col gather followed by one GEMM;
/// depthwise ones (`groups == in == out`) multiply the gathered patches by the
/// per-channel kernels and sum. Both stay differentiable through Kit's ops.
///
/// ```swift
/// let conv = TokenConv2d(3, 32, kernel: 7, stride: 4, padding: 3, rng: rng)
/// let (y, h, w) = conv(tokens, height: 224, width: 224)   // [B, 56*56, 32]
/// ```
public final class TokenConv2d: Module {
    public let weight: Tensor
    public let bias: Tensor
    let kernel: Int
    let stride: Int
    let padding: Int
    let depthwise: Bool

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int, padding: Int, depthwise: Bool = false,
        rng: RandomSource
    ) {
        precondition(!depthwise || inChannels == outChannels, "TokenConv2d: a depthwise convolution keeps its channels")
        let fanOut = kernel * kernel * (depthwise ? 1 : outChannels)
        weight = Tensor.zeros([outChannels, depthwise ? 1 : inChannels, kernel, kernel]).asParameter()
        Init.normal(weight, std: (2 / Float(fanOut)).squareRoot(), using: rng)
        bias = Tensor.zeros([outChannels]).asParameter()
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.depthwise = depthwise
        super.init()
    }

    /// Convolves `tokens` `[B, height * width, in]`; returns `[B, outH * outW, out]` and the output grid.
    ///
    /// With `mixing` (a MixMAE batch whose tokens come from two source images),
    /// the convolution is group-aware: each output token sums only over input
    /// tokens of its own source image, as if the other image's tokens were zero.
    /// Without it, this is the plain convolution.
    public func callAsFunction(_ tokens: Tensor, height: Int, width: Int, mixing: MixingMask? = nil)
        -> (Tensor, height: Int, width: Int)
    {
        let plan = ConvolutionPlan(height: height, width: width, kernel: kernel, stride: stride, padding: padding)
        let out = weight.shape[0]
        let taps = kernel * kernel
        let patches = plan.patches(tokens, groups: mixing.map { ConvolutionGroups(mixing: $0, plan: plan) })
        let y: Tensor
        if depthwise {
            // weight [C, 1, k, k] -> [k*k, C], broadcast over batch and positions.
            let w = weight.reshaped([out, taps]).transposed()
            y = (patches * w).sum(axes: [2]) + bias
        } else {
            // weight [out, in, k, k] -> [out, k*k*in] in the patches' (ky, kx, c) order.
            let inChannels = weight.shape[1]
            let w = weight.permuted([0, 2, 3, 1]).reshaped([out, taps * inChannels])
            y = linear(patches.reshaped([tokens.shape[0], -1, taps * inChannels]), weight: w, bias: bias)
        }
        return (y, plan.outputHeight, plan.outputWidth)
    }
}
