import Foundation
import MixKit

/// Finite-difference gradient checking of float32 code that tells rounding
/// noise from a wrong gradient.
///
/// For each sampled element `xᵢ` the loss `L` is evaluated at the five points
/// `xᵢ + k·h/2`, `k = -2...2` (with the default `h = 2⁻⁷` the offsets are
/// exact in float32). From them:
/// - the numeric derivative: the central differences `D(h)` and `D(h/2)` and
///   their Richardson extrapolation `R = (4·D(h/2) - D(h)) / 3`, whose
///   truncation error is of order h⁴;
/// - a truncation allowance `|D(h) - D(h/2)| / 3`, the error estimate of
///   `D(h/2)` (larger than `R`'s);
/// - the rounding noise of `L`, measured rather than assumed: the fourth
///   difference of the five values cancels every cubic, so on a smooth loss
///   it is noise alone, with variance `70σ²` for evaluations of noise `σ`.
///   `σ` is the larger of the element's own estimate, the mean over the sampled
///   elements of the same tensor and the rounding of the loss value itself;
///   the noise of `R` is then about `1.9·σ/h`.
///
/// A sample passes when
/// `|analytic - R| ≤ relativeTolerance·max(|analytic|, |R|) + noiseMargin·noise(R) + truncation`.
/// It is *conclusive* when the larger of the two derivatives exceeds twice the
/// absolute part of that bound; below it a float32 computation cannot tell the
/// derivative from zero, and how far the two values sit apart depends on the
/// CPU's rounding (AVX2 and AVX-512 sum in different orders). A wrong
/// backward (a missing term, a wrong scale, sign or index) is off by a
/// fraction of the derivative itself and fails the conclusive samples it touches.
///
/// Results are reports, not assertions, so that any test framework (or a
/// command) can use them:
///
/// ```swift
/// let report = GradientCheck().check([x, weight]) { linear($0[0], weight: $0[1], bias: nil) }
/// #expect(report.passed, "\(report)")
/// ```
public struct GradientCheck: Sendable {
    /// The larger step `h`; the differences also use `h/2`.
    public var step: Double
    /// Allowed disagreement as a fraction of the larger derivative.
    public var relativeTolerance: Double
    /// The rounding noise of the numeric derivative is allowed this many times.
    public var noiseMargin: Double
    /// Elements checked per input: every element of a smaller input.
    public var samplesPerInput: Int
    /// Seed of the read-out weights and of the sampled elements.
    public var seed: UInt64

    public init(
        step: Double = 1.0 / 128, relativeTolerance: Double = 2e-2, noiseMargin: Double = 10,
        samplesPerInput: Int = 24, seed: UInt64 = 1234
    ) {
        self.step = step
        self.relativeTolerance = relativeTolerance
        self.noiseMargin = noiseMargin
        self.samplesPerInput = samplesPerInput
        self.seed = seed
    }

    /// Checks `dL/dx` for every input of `f`, with `L = Σ f(inputs) ⊙ w` for a
    /// fixed random `w`, summed in double precision so that the only float32
    /// rounding left is `f`'s own.
    ///
    /// The inputs become parameters (their gradients are cleared first).
    ///
    /// ```swift
    /// let report = GradientCheck().check([randn([3, 5])]) { $0[0].softmax() }
    /// ```
    public func check(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> GradientReport {
        check(inputs.enumerated().map { ("input \($0.offset)", $0.element) }) { f(inputs) }
    }

    /// Checks `dL/dx` for tensors that `f` reads itself (a module's weights, an
    /// input captured by the closure), each with a name for the report;
    /// `L = Σ f() ⊙ w` as the unnamed `check(_:_:)` does.
    ///
    /// ```swift
    /// let report = GradientCheck().check([("x", x), ("fc.weight", mlp.fc1.weight)]) { mlp(x) }
    /// ```
    public func check(_ inputs: [(name: String, tensor: Tensor)], _ f: () -> Tensor) -> GradientReport {
        var rng = RandomGenerator(seed: seed)
        for (_, x) in inputs {
            x.requiresGrad = true
            x.grad = nil
        }
        let out = f()
        let w = Tensor.randomNormal(out.shape, using: &rng)
        (out * w).sum().backward()
        let unperturbed = out.scalars
        let loss = { () -> LossValue in
            let o = withNoGrad { f() }
            precondition(o.count == w.count, "GradientCheck: f changed its output shape from \(w.shape) to \(o.shape)")
            var sum = 0.0
            var changed = 0.0
            var all = 0.0
            for i in 0..<o.count {
                let term = Double(o.data[i]) * Double(w.data[i])
                sum += term
                all += term * term
                if o.data[i] != unperturbed[i] { changed += term * term }
            }
            // Every output that moved was rounded to float32 anew, a relative error up to 2⁻²⁴
            // each. When none moved, the change was lost in the rounding of any of them.
            let rounded = changed > 0 ? changed : all
            return LossValue(value: sum, roundingNoise: rounded.squareRoot() * 0x1p-24 / 3.0.squareRoot())
        }
        var report = compare(inputs, elements: .sample(samplesPerInput), using: &rng, loss: loss)
        for (name, x) in inputs {
            let samples = report.samples.filter { $0.name == name }
            if x.grad != nil && !samples.isEmpty && !samples.contains(where: \.isConclusive) {
                report.failures.append(
                    "\(name) \(x.shape): no sampled derivative is above the float32 noise floor, so nothing was "
                        + "verified; use inputs of order 1 on which the output depends")
            }
        }
        return report
    }

    /// Which elements of a tensor to check.
    public enum Elements: Sendable {
        /// Every element of a tensor with at most this many, else this many distinct ones at random.
        case sample(Int)
        /// The elements with the largest gradients, then one more at random: this many in all.
        case largestThenRandom(Int)
    }

    /// One evaluation of the loss, with the rounding noise of that value alone.
    public struct LossValue: Sendable {
        public var value: Double
        /// Standard deviation of the rounding of `value` itself (a floor for the noise estimate).
        public var roundingNoise: Double

        public init(value: Double, roundingNoise: Double) {
            self.value = value
            self.roundingNoise = roundingNoise
        }

        /// A float32 scalar: rounded once to 24 bits.
        public init(float32 value: Float) {
            self.value = Double(value)
            self.roundingNoise = abs(Double(value)) * 0x1p-24 / 3.0.squareRoot()
        }
    }

    /// Compares the gradients already in `tensors` (their ``Tensor/grad``) with
    /// finite differences of `loss`, which must read the tensors as they are
    /// when it is called (they are changed in place and restored).
    ///
    /// ```swift
    /// probe().backward()
    /// var rng = RandomGenerator(seed: 1)
    /// let report = GradientCheck().compare(module.namedParameters(), elements: .largestThenRandom(3),
    ///                                      using: &rng) { .init(float32: withNoGrad { probe() }.item()) }
    /// ```
    public func compare(
        _ tensors: [(name: String, tensor: Tensor)], elements: Elements, using rng: inout RandomGenerator,
        loss: () -> LossValue
    ) -> GradientReport {
        var report = GradientReport()
        let base = loss()
        for (name, x) in tensors {
            guard let grad = x.grad else {
                report.failures.append("\(name) \(x.shape) got no gradient")
                continue
            }
            guard grad.shape == x.shape else {
                report.failures.append("\(name) \(x.shape) got a gradient of shape \(grad.shape)")
                continue
            }
            let indices = chooseElements(grad.scalars, elements, using: &rng)
            let measured = indices.map { measure(x, at: $0, base: base, loss: loss) }
            // Noise is a property of the loss near x: pool it over the tensor's samples (a
            // single fourth difference has one degree of freedom).
            let pooled = (measured.reduce(0) { $0 + $1.noiseVariance } / Double(max(measured.count, 1)))
                .squareRoot()
            for (index, m) in zip(indices, measured) {
                let sigma = max(m.noiseVariance.squareRoot(), pooled, m.roundingNoise)
                let analytic = Double(grad.data[index])
                let noise = (130.0).squareRoot() / 6 * sigma / m.step
                let truncation = abs(m.coarse - m.fine) / 3
                let floor = noiseMargin * noise + truncation
                let sample = GradientSample(
                    name: name, shape: x.shape, index: index, analytic: analytic, numeric: m.extrapolated,
                    coarse: m.coarse, fine: m.fine, noise: noise, truncation: truncation,
                    tolerance: relativeTolerance * max(abs(analytic), abs(m.extrapolated)) + floor,
                    noiseFloor: 2 * floor)
                report.samples.append(sample)
                if !sample.passed {
                    report.failures.append(
                        "gradient of \(name)[\(index)]: analytic \(format(analytic)), finite differences "
                            + "\(format(m.extrapolated)) (tolerance \(format(sample.tolerance)))")
                }
            }
        }
        return report
    }

    /// The five evaluations around one element, reduced.
    private struct Measurement {
        var coarse: Double
        var fine: Double
        var extrapolated: Double
        var step: Double
        var noiseVariance: Double
        var roundingNoise: Double
    }

    private func measure(_ x: Tensor, at index: Int, base: LossValue, loss: () -> LossValue) -> Measurement {
        let saved = x.data[index]
        var values = [Double](repeating: 0, count: 5)
        var offsets = [Double](repeating: 0, count: 5)
        var rounding = 0.0
        values[2] = base.value
        for k in -2...2 where k != 0 {
            let moved = Float(Double(saved) + Double(k) * step / 2)
            x.data[index] = moved
            let l = loss()
            values[k + 2] = l.value
            offsets[k + 2] = Double(moved) - Double(saved)
            rounding = max(rounding, l.roundingNoise)
        }
        x.data[index] = saved
        let coarse = (values[4] - values[0]) / (offsets[4] - offsets[0])
        let fine = (values[3] - values[1]) / (offsets[3] - offsets[1])
        let fourth = values[0] - 4 * values[1] + 6 * values[2] - 4 * values[3] + values[4]
        return Measurement(
            coarse: coarse, fine: fine, extrapolated: (4 * fine - coarse) / 3, step: (offsets[4] - offsets[0]) / 2,
            noiseVariance: fourth * fourth / 70, roundingNoise: rounding)
    }

    private func chooseElements(_ grad: [Float], _ elements: Elements, using rng: inout RandomGenerator) -> [Int] {
        switch elements {
        case .sample(let count):
            if grad.count <= count { return Array(grad.indices) }
            var chosen: [Int] = []
            var seen = Set<Int>()
            while chosen.count < count {
                let i = rng.nextInt(below: grad.count)
                if seen.insert(i).inserted { chosen.append(i) }
            }
            return chosen
        case .largestThenRandom(let count):
            let largest = grad.indices.sorted { abs(grad[$0]) > abs(grad[$1]) }.prefix(max(0, count - 1))
            var chosen = Array(largest)
            if chosen.count < min(count, grad.count) {
                var candidate = rng.nextInt(below: grad.count)
                while chosen.contains(candidate) { candidate = (candidate + 1) % grad.count }
                chosen.append(candidate)
            }
            return chosen
        }
    }
}

/// One compared derivative.
public struct GradientSample: Sendable, CustomStringConvertible {
    /// The tensor's name (or "input k").
    public var name: String
    public var shape: [Int]
    /// The element, row-major.
    public var index: Int
    /// From backward.
    public var analytic: Double
    /// The Richardson extrapolation of the two central differences.
    public var numeric: Double
    /// The central differences with step h and h/2.
    public var coarse: Double
    public var fine: Double
    /// Standard deviation of `numeric` from the rounding noise of the loss.
    public var noise: Double
    /// The truncation allowance.
    public var truncation: Double
    /// The largest allowed `|analytic - numeric|`.
    public var tolerance: Double
    /// Below this the derivative cannot be told from float32 noise.
    public var noiseFloor: Double

    public var passed: Bool { abs(analytic - numeric) <= tolerance }
    /// True when the derivative is large enough for the comparison to mean something.
    public var isConclusive: Bool { max(abs(analytic), abs(numeric)) > noiseFloor }

    public var description: String {
        "\(name)\(shape)[\(index)]: analytic \(format(analytic)), numeric \(format(numeric)) "
            + "(h: \(format(coarse)), h/2: \(format(fine)), noise \(format(noise)), tolerance \(format(tolerance)))"
            + (passed ? (isConclusive ? "" : " small") : " MISMATCH")
    }
}

/// What a gradient check found.
public struct GradientReport: Sendable, CustomStringConvertible {
    public var samples: [GradientSample] = []
    /// What went wrong; empty when the check passed.
    public var failures: [String] = []

    public init() {}

    public var passed: Bool { failures.isEmpty }

    public var description: String {
        passed
            ? "gradient check passed: \(samples.count) derivatives, \(samples.filter(\.isConclusive).count) above the noise floor"
            : (["gradient check failed:"] + failures.map { "  - " + $0 }).joined(separator: "\n")
    }
}

func format(_ v: Double) -> String { String(format: "%.4e", v) }
