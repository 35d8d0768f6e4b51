import MixKit
import Testing

/// Finite-difference gradient checking for float32 operations.
///
/// The checked scalar is `L = Σ f(x) ⊙ w` with a fixed random `w`, summed in
/// double precision so that the only float32 rounding left is in `f` itself.
/// Central differences with step `h = 1e-2` on inputs of order 1 have a
/// truncation error of order h² f''' ≈ 1e-4 and a rounding error of order
/// ε·|L|/h ≈ 1e-5·|L|; the tolerance `|a - n| <= 2e-2·max(|a|, |n|) + 2e-3`
/// sits above both and far below the errors a wrong gradient makes (a sign,
/// a missing term or a wrong index changes the value by O(|a|)).
struct GradientCheck {
    var h: Float = 1e-2
    var relativeTolerance: Double = 2e-2
    var absoluteTolerance: Double = 2e-3
    var samplesPerInput = 24

    /// Checks d L / d input for every input, `f` evaluated on the inputs.
    func check(
        _ inputs: [Tensor], sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
    ) {
        var rng = RandomGenerator(seed: 1234)
        for x in inputs {
            x.requiresGrad = true
            x.grad = nil
        }
        let out = f(inputs)
        let w = Tensor.randomNormal(out.shape, using: &rng)
        (out * w).sum().backward()
        func loss() -> Double {
            let o = withNoGrad { f(inputs) }
            var s = 0.0
            for i in 0..<o.count { s += Double(o.data[i]) * Double(w.data[i]) }
            return s
        }
        for (k, x) in inputs.enumerated() {
            guard let grad = x.grad else {
                Issue.record("input \(k) \(x.shape) got no gradient", sourceLocation: sourceLocation)
                continue
            }
            #expect(grad.shape == x.shape, sourceLocation: sourceLocation)
            let indices =
                x.count <= samplesPerInput
                ? Array(0..<x.count) : (0..<samplesPerInput).map { _ in rng.nextInt(below: x.count) }
            for i in indices {
                let saved = x.data[i]
                x.data[i] = saved + h
                let plus = loss()
                x.data[i] = saved - h
                let minus = loss()
                x.data[i] = saved
                let numeric = (plus - minus) / Double(2 * h)
                let analytic = Double(grad.data[i])
                let tolerance = relativeTolerance * max(abs(numeric), abs(analytic)) + absoluteTolerance
                #expect(
                    abs(numeric - analytic) <= tolerance,
                    "input \(k) \(x.shape) element \(i): analytic \(analytic), numeric \(numeric)",
                    sourceLocation: sourceLocation)
            }
        }
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
