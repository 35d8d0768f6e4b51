/// MixMAE's loss reads each token's prediction only from the branch in which
/// that token was hidden (``MixingMask/unmix(_:height:width:)``): half of the
/// dual-branch reconstruction `[2B, L, P]` is computed and then thrown away.
/// A decoder and a loss that conform to these protocols skip that half while
/// training: the decoder computes the row-wise tail of its network (whatever
/// follows its last token mixing, such as the last block's MLP, the final norm
/// and the pixel projection) only for the hidden tokens, and the loss scores
/// that `[B, L, P]` directly. The loss and every gradient are those of the
/// dual-branch path, up to the order of float sums. The host takes this path
/// when both parts conform and falls back to ``ReconstructionDecoder/reconstruct(_:mixing:)``
/// otherwise, and always where the whole reconstruction is an output (`mixmae forward`). SDK 2.15.
///
/// ```swift
/// if let decoder = decoder as? HiddenTokenDecoder, let loss = objective as? UnmixedReconstructionLoss {
///     let unmixed = decoder.reconstructHidden(latent, mixing: mixing)   // [B, L, P]
///     let value = loss.loss(images: images, unmixed: unmixed, mixing: mixing, patchSize: decoder.patchSize)
/// }
/// ```
public protocol HiddenTokenDecoder: ReconstructionDecoder {
    /// `latent` `[B, L, C]` to `[B, L, P]`: for image b and token t, the prediction of the branch in which
    /// that token of image b was hidden (branch 1, row b, where the mask is 1; branch 2, row B-1-b, where it
    /// is 0), i.e. `mixing.unmix(reconstruct(latent, mixing: mixing), ...)`.
    func reconstructHidden(_ latent: Tensor, mixing: MixingMask) -> Tensor
}

/// A reconstruction loss that scores the unmixed reconstruction a ``HiddenTokenDecoder`` emits.
public protocol UnmixedReconstructionLoss: ReconstructionLoss {
    /// The same loss as ``ReconstructionLoss/loss(images:reconstruction:mixing:patchSize:)`` of the dual-branch
    /// reconstruction whose unmixed form is `unmixed` `[B, L, P*P*C]`.
    func loss(images: Tensor, unmixed: Tensor, mixing: MixingMask, patchSize: Int) -> Tensor
}

extension MixingMask {
    /// The rows of a dual-branch reconstruction at an `h`x`w` grid, flattened to `[2B*h*w, P]`, that
    /// ``unmix(_:height:width:)`` reads, in the order of its output `[B*h*w, P]`: for image b and token t,
    /// `b*L + t` where the mask (``upsampled(height:width:)``) is 1 (hidden in branch 1) and `(2B-1-b)*L + t`
    /// where it is 0 (hidden in branch 2, in image B-1-b's row), for L = h*w.
    ///
    /// ```swift
    /// let rows = mixing.hiddenRows(batch: b, height: 7, width: 7)
    /// let hidden = h.reshaped([2 * b * 49, d]).indexSelect(axis: 0, indices: rows)   // [b*49, d]
    /// ```
    public func hiddenRows(batch: Int, height h: Int, width w: Int) -> [Int] {
        let mask = upsampled(height: h, width: w)
        var rows: [Int] = []
        rows.reserveCapacity(batch * mask.count)
        for image in 0..<batch {
            for (t, hiddenInFirst) in mask.enumerated() {
                rows.append((hiddenInFirst == 1 ? image : 2 * batch - 1 - image) * mask.count + t)
            }
        }
        return rows
    }
}
