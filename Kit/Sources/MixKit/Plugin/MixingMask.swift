/// MixMAE's mask, shared by the whole batch, over the final-stage grid (units of
/// 32x32 pixels for a stride-32 backbone). A 1 means the token comes from the
/// partner image: image i is mixed with image B-1-i as `x*(1-m) + flip(x)*m`.
///
/// ```swift
/// let mask = MixingMask(height: 7, width: 7, values: sampled)
/// let stage0 = mask.upsampled(height: 56, width: 56)   // nearest, per token
/// ```
public struct MixingMask: Sendable, Equatable {
    public var height: Int
    public var width: Int
    public var values: [UInt8]

    public init(height: Int, width: Int, values: [UInt8]) {
        precondition(values.count == height * width, "MixingMask: \(values.count) values for a \(height)x\(width) grid")
        self.height = height
        self.width = width
        self.values = values
    }

    /// The mask at another grid by nearest-neighbour sampling (PyTorch's
    /// `interpolate(mode="nearest")`: source index `floor(i * in / out)`).
    public func upsampled(height h: Int, width w: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: h * w)
        for y in 0..<h {
            let sy = y * height / h
            for x in 0..<w { out[y * w + x] = values[sy * width + x * width / w] }
        }
        return out
    }

    /// The mask at a grid as a `[1, h*w, 1]` float tensor (0 or 1), to mix tokens.
    public func tensor(height h: Int, width w: Int) -> Tensor {
        Tensor(shape: [1, h * w, 1], scalars: upsampled(height: h, width: w).map { Float($0) })
    }

    /// Mixes a batch of tokens `[B, h*w, C]`: `x*(1-m) + flip_batch(x)*m`, in one op (``BatchMixing``).
    public func mix(_ tokens: Tensor, height h: Int, width w: Int) -> Tensor {
        BatchMixing(weights: upsampled(height: h, width: w).map { 1 - Float($0) }).mix(tokens)
    }

    /// Puts the dual-branch reconstruction `[2B, h*w, C]` of the mixed batch back together per image:
    /// `first*m + flip_batch(second)*(1-m)` for its halves `first` and `second` (MixMIM's `unmix_x_rec`), in one op
    /// (``BatchMixing``). SDK 2.14.
    ///
    /// ```swift
    /// let unmixed = mixing.unmix(reconstruction, height: 4, width: 4)   // [2B, 16, P] -> [B, 16, P]
    /// ```
    public func unmix(_ reconstruction: Tensor, height h: Int, width w: Int) -> Tensor {
        BatchMixing(weights: upsampled(height: h, width: w).map { Float($0) }).unmix(reconstruction)
    }
}
