import MixKit
import MixKitTesting
import Testing

extension GradientCheck {
    /// Runs ``GradientCheck/check(_:_:)`` and records every failure as an issue at the caller.
    func expect(
        _ inputs: [Tensor], sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
    ) {
        let report = check(inputs, f)
        for failure in report.failures { Issue.record(Comment(rawValue: failure), sourceLocation: sourceLocation) }
    }
}

/// A tensor of standard normal values from a fixed seed.
func randn(_ shape: [Int], seed: UInt64 = 7, scale: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape, std: scale, using: &rng)
}

/// Max |a - b| over all elements.
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.data[i] - b.data[i])) }
    return m
}
