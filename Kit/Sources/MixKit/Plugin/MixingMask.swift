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

/// A batch mixed with another one reversed, token by token: `out[b, t] = first[b, t] * weights[t] +
/// second[B - 1 - b, t] * (1 - weights[t])` for `[B, T, C]` batches, as one op. Composed of slices, a multiply, a
/// flip, a second multiply and an add, the same takes four passes over the batch forward and six backward (the
/// slices' zero-filled gradients and their sum among them); this takes one each way, with the same products and
/// sums in the same order, so values and gradients are bit for bit those of the composition.
///
/// ```swift
/// let mixed = BatchMixing(weights: [1, 0, 0, 1]).mix(tokens)   // [B, 4, C], `first` and `second` both tokens
/// ```
struct BatchMixing {
    /// Each token's weight on `first` (`1 - weight` on the reversed `second`).
    let weights: [Float]

    /// `first` and `second` both `x` (`[B, T, C]`).
    func mix(_ x: Tensor) -> Tensor {
        defineOp("mix_batch", x) { op in
            let batch = requireBatch(x, op, name: "tokens")
            let out = Tensor(uninitializedShape: x.shape)
            let channels = x.shape[2]
            run(x.data, x.data, into: out.data, batch: batch, channels: channels, part: .both)
            return OpResult(out) { g in
                // d x[b] = g[b] w + g[B - 1 - b] (1 - w): the forward pass on g.
                let gradient = Tensor(uninitializedShape: g.shape)
                run(g.data, g.data, into: gradient.data, batch: batch, channels: channels, part: .both)
                return [gradient]
            }
        }
    }

    /// `first` and `second` the two halves of `pair` (`[2B, T, C]`); the result is `[B, T, C]`.
    func unmix(_ pair: Tensor) -> Tensor {
        defineOp("unmix_batch", pair) { op in
            let rows = requireBatch(pair, op, name: "reconstruction")
            op.require(rows % 2 == 0, "reconstruction must hold two branches of B images each, got \(pair.shape)")
            let batch = rows / 2
            let channels = pair.shape[2]
            let half = batch * weights.count * channels
            let out = Tensor(uninitializedShape: [batch] + pair.shape.dropFirst())
            run(pair.data, pair.data + half, into: out.data, batch: batch, channels: channels, part: .both)
            return OpResult(out) { g in
                // d first[b] = g[b] w; d second[B - 1 - b] = g[b] (1 - w).
                let gradient = Tensor(uninitializedShape: pair.shape)
                run(g.data, g.data, into: gradient.data, batch: batch, channels: channels, part: .firstOnly)
                run(g.data, g.data, into: gradient.data + half, batch: batch, channels: channels, part: .reversedOnly)
                return [gradient]
            }
        }
    }

    /// Checks that `x` is `[N, T, C]` for this mask's T tokens, and returns N.
    private func requireBatch(_ x: Tensor, _ op: OpContext, name: String) -> Int {
        op.require(
            x.rank == 3 && x.shape[1] == weights.count,
            "\(name) must be [B, \(weights.count), C] for a mask of \(weights.count) tokens, got \(x.shape)")
        return x.shape[0]
    }

    /// Which terms of the mix a pass computes.
    private enum Part { case both, firstOnly, reversedOnly }

    /// `out[b, t] = first[b, t] w[t] + second[B - 1 - b, t] (1 - w[t])` (or one of the terms) for `batch` images of
    /// the mask's tokens and `channels` values per token.
    private func run(
        _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
        batch: Int, channels: Int, part: Part
    ) {
        let tokens = weights.count
        weights.withUnsafeBufferPointer { w in
            Parallel.forRanges(batch * tokens, work: batch * tokens * channels) { lo, hi in
                for row in lo..<hi {
                    let (b, t) = (row / tokens, row % tokens)
                    let (keep, take) = (w[t], 1 - w[t])
                    let o = out + row * channels
                    let x = first + row * channels
                    let y = second + ((batch - 1 - b) * tokens + t) * channels
                    switch part {
                    case .both: for c in 0..<channels { o[c] = x[c] * keep + y[c] * take }
                    case .firstOnly: for c in 0..<channels { o[c] = x[c] * keep }
                    case .reversedOnly: for c in 0..<channels { o[c] = y[c] * take }
                    }
                }
            }
        }
    }
}
