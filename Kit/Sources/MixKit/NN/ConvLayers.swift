/// 2-D convolution with a square kernel, NCHW; `weight` is `[out, in, k, k]`
/// and `bias` `[out]` as PyTorch's `nn.Conv2d` stores them.
///
/// Initialised as PyTorch's default (uniform in ±1/sqrt(in*k*k) for both) from
/// the model's generator; heads usually re-initialise with ``Init``.
///
/// ```swift
/// let conv = Conv2d(256, 256, kernelSize: 3, padding: 1, rng: rng)
/// let y = conv(x)   // [B, 256, H, W] -> [B, 256, H, W]
/// ```
public final class Conv2d: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int
    public let dilation: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
        bias: Bool = true, rng: RandomSource
    ) {
        let bound = 1 / Float(max(inChannels * kernelSize * kernelSize, 1)).squareRoot()
        weight = Tensor.randomUniform(
            [outChannels, inChannels, kernelSize, kernelSize], low: -bound, high: bound, using: rng
        ).asParameter()
        self.bias =
            bias ? Tensor.randomUniform([outChannels], low: -bound, high: bound, using: rng).asParameter() : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        super.init()
    }

    public var inChannels: Int { weight.shape[1] }
    public var outChannels: Int { weight.shape[0] }
    public var kernelSize: Int { weight.shape[2] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation)
    }
}

/// Group normalisation with a learned per-channel scale and shift (PyTorch's `nn.GroupNorm`).
///
/// ```swift
/// let gn = GroupNorm(groups: 32, channels: 256)
/// ```
public final class GroupNorm: Module, UnaryLayer {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Float

    public init(groups: Int, channels: Int, eps: Float = 1e-5) {
        precondition(
            groups >= 1 && channels % groups == 0,
            "GroupNorm: \(channels) channels are not divisible into \(groups) groups")
        weight = Tensor.ones([channels]).asParameter()
        bias = Tensor.zeros([channels]).asParameter()
        self.groups = groups
        self.eps = eps
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        groupNorm(x, groups: groups, weight: weight, bias: bias, eps: eps)
    }
}

/// Convolution, optional GroupNorm, optional ReLU: mmcv's `ConvModule`, with its
/// tensor names (`conv.weight`, `gn.weight`, ...). With a norm the convolution
/// has no bias (mmcv's `bias="auto"`).
///
/// ```swift
/// let tower = ConvModule(256, 256, kernelSize: 3, padding: 1, groupNormGroups: 32, rng: rng)
/// let lateral = ConvModule(96, 256, kernelSize: 1, activation: false, rng: rng)
/// ```
public final class ConvModule: Module, UnaryLayer {
    public let conv: Conv2d
    public let gn: GroupNorm?
    public let activation: Bool

    /// `groupNormGroups` is the number of GroupNorm groups after the convolution (nil for
    /// none); `rng` is the model's generator, which the convolution's initial weights come from.
    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        groupNormGroups: Int? = nil, activation: Bool = true, rng: RandomSource
    ) {
        conv = Conv2d(
            inChannels, outChannels, kernelSize: kernelSize, stride: stride, padding: padding,
            bias: groupNormGroups == nil, rng: rng)
        gn = groupNormGroups.map { GroupNorm(groups: $0, channels: outChannels) }
        self.activation = activation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv(x)
        if let gn { y = gn(y) }
        return activation ? y.relu() : y
    }
}

/// A learned scalar multiplier (mmcv's `Scale`), `scale` of shape `[]`.
///
/// ```swift
/// let s = Scale(1.0)
/// let y = s(regression)   // regression * scale
/// ```
public final class Scale: Module, UnaryLayer {
    public let scale: Tensor

    public init(_ value: Float = 1) {
        scale = Tensor(scalar: value).asParameter()
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x * scale }
}

extension Init {
    /// He/Kaiming normal for layers followed by ReLU: std `sqrt(2 / fan)`, with
    /// fan-out `out * k * k` (mmcv's `kaiming_init(mode="fan_out")`) or fan-in `in * k * k`.
    ///
    /// ```swift
    /// Init.kaimingNormal(conv.weight, using: rng)   // fan-out, as mmseg's ConvModule
    /// ```
    public static func kaimingNormal(_ t: Tensor, fanOut: Bool = true, using rng: RandomSource) {
        precondition(t.rank >= 2, "kaimingNormal: needs a tensor of rank >= 2, got \(t.shape)")
        let receptive = t.shape[2...].reduce(1, *)
        let fan = (fanOut ? t.shape[0] : t.shape[1]) * receptive
        normal(t, std: (2 / Float(max(fan, 1))).squareRoot(), using: rng)
    }
}
