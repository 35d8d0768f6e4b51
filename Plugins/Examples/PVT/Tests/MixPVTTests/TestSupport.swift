import MixKit
import MixKitTesting
import Testing

extension GradientCheck {
    /// Checks the named tensors `f` reads with the SDK's finite-difference checker
    /// (MixKitTesting, the one `mixmae plugins check` runs) and records every
    /// failure as an issue at the caller.
    func expect(
        _ inputs: [(name: String, tensor: Tensor)], sourceLocation: SourceLocation = #_sourceLocation,
        _ f: () -> Tensor
    ) {
        let report = check(inputs, f)
        for failure in report.failures { Issue.record(Comment(rawValue: failure), sourceLocation: sourceLocation) }
    }
}

/// A tensor of standard normal values from a fixed seed.
func randn(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape, std: scale, using: &rng)
}

/// Max |a - b| over all elements.
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "maxAbsDiff: \(a.shape) vs \(b.shape)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.data[i] - b.data[i])) }
    return m
}
