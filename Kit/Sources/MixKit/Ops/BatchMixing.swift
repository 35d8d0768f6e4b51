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
