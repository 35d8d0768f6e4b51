import MixKit

extension MixingMask {
    /// The additive attention bias `[queries, keys]` that keeps every query of a
    /// MixMAE-mixed token map on the keys of its own source image: 0 where the
    /// query's and the key's groups agree, -1e30 elsewhere (as the reference adds
    /// to the other image's logits). Each grid's groups are this mask upsampled
    /// to it, so a reduced key grid must align with the mask units.
    ///
    /// Every query keeps at least its own mask unit's keys, so no row is all -1e30.
    ///
    /// ```swift
    /// let bias = mask.attentionBias(queries: (56, 56), keys: (7, 7))  // [3136, 49]
    /// let p = (scores + bias).softmax()
    /// ```
    public func attentionBias(queries: (height: Int, width: Int), keys: (height: Int, width: Int)) -> Tensor {
        let queryGroups = upsampled(height: queries.height, width: queries.width)
        let keyGroups = upsampled(height: keys.height, width: keys.width)
        var bias = [Float](repeating: 0, count: queryGroups.count * keyGroups.count)
        for (q, own) in queryGroups.enumerated() {
            for (k, group) in keyGroups.enumerated() where group != own {
                bias[q * keyGroups.count + k] = -1e30
            }
        }
        return Tensor(shape: [queryGroups.count, keyGroups.count], scalars: bias)
    }
}
