import Foundation
import MixKit

/// What `mixmae plugins check ID` does: builds a component with its default
/// parameters, runs its probe forward and backward, checks a backbone's
/// feature maps against its declared capabilities, and compares a few
/// gradient elements with central finite differences.
///
/// The component runs in evaluation mode (no dropout or drop path) so that
/// the probe is a deterministic function of the parameters, and the global
/// generator is seeded first so that two runs build the same weights.
///
/// ```swift
/// let report = ComponentCheck().run(catalog.component("pvt")!) { print($0) }
/// print(report.passed)
/// ```
public struct ComponentCheck {
    /// How many parameter tensors to spot-check, spread over the module.
    public var parameterCount = 4
    /// How many elements of each: the largest gradients, then one at random.
    public var elementsPerParameter = 3
    /// The finite-difference step.
    public var step: Float = 1e-2
    /// Relative tolerance between analytic and numeric derivatives.
    public var relativeTolerance = 5e-2
    /// Absolute tolerance as a multiple of `max(1, |probe|)`. The float32 rounding
    /// of a probe is up to about 1e-6 of its value; divided by the step's 2h that is
    /// 5e-5 (measured: 4e-5 on a 27M-parameter Swin). A derivative below twice this
    /// cannot be told from noise and is reported as small, not as verified.
    public var absoluteTolerancePerUnit = 2e-4
    /// Seed of ``Random/generator`` before building.
    public var seed: UInt64 = 0

    public init() {}

    /// One compared gradient element.
    public struct GradientSample: Sendable {
        public var parameter: String
        public var shape: [Int]
        public var index: Int
        public var analytic: Double
        public var numeric: Double
        public var tolerance: Double
        /// The floor below which float32 noise may dominate both values.
        public var noiseFloor: Double
        public var passed: Bool { abs(analytic - numeric) <= tolerance }
        /// True when the derivative is large enough for the comparison to mean something.
        public var isConclusive: Bool { max(abs(analytic), abs(numeric)) > noiseFloor }
    }

    /// Everything the check measured, and what failed.
    public struct Report {
        public var id: String
        public var kind: ComponentKind
        public var version: String
        public var library: String
        public var parameters: Parameters
        public var buildSeconds: Double?
        public var forwardSeconds: Double?
        public var backwardSeconds: Double?
        public var finiteDifferenceSeconds: Double?
        /// Trainable tensors and their total number of elements.
        public var tensorCount = 0
        public var elementCount = 0
        /// The probe's value.
        public var value: Float?
        /// A backbone's emitted feature maps, checked against its declared capabilities.
        public var featureMaps: [FeatureSpec] = []
        /// Trainable tensors that received no gradient (not a failure: an
        /// unused output's norm, for example).
        public var withoutGradient: [String] = []
        public var samples: [GradientSample] = []
        /// What went wrong; empty when the check passed.
        public var failures: [String] = []

        public var passed: Bool { failures.isEmpty }
    }

    /// Runs the check; `progress` receives a line before each slow step.
    public func run(_ component: PluginComponent, progress: (String) -> Void = { _ in }) -> Report {
        let descriptor = component.descriptor
        let params = Parameters(defaultsOf: descriptor.parameters)
        var report = Report(
            id: descriptor.id, kind: descriptor.kind, version: descriptor.version, library: component.library,
            parameters: params)
        let required = descriptor.parameters.filter(\.isRequired).map(\.name)
        guard required.isEmpty else {
            report.failures.append(
                "required parameters without a default (\(required.joined(separator: ", "))): plugins check builds "
                    + "with defaults only; check this component through a recipe instead")
            return report
        }

        progress("building \(descriptor.id) with its default parameters")
        Random.seed(seed)
        let context = descriptor.exampleContext(params)
        let module: Module
        do {
            let (built, buildSeconds) = try timed { try descriptor.build(params, context) }
            module = built
            report.buildSeconds = buildSeconds
        } catch {
            report.failures.append("build failed: \(error)")
            return report
        }
        module.train(false)
        let named = module.namedParameters()
        report.tensorCount = named.count
        report.elementCount = named.reduce(0) { $0 + $1.1.count }

        if let backbone = module as? Backbone, let declared = descriptor.capabilities?(params) {
            progress("checking the feature maps against the declared capabilities")
            report.featureMaps = checkFeatureMaps(backbone, declared: declared, into: &report.failures)
        }

        progress("forward")
        let (output, forwardSeconds) = timed { descriptor.probe(module, params, context) }
        report.forwardSeconds = forwardSeconds
        guard output.count == 1 else {
            report.failures.append("the probe returned a tensor of shape \(output.shape), not a scalar")
            return report
        }
        let value = output.item()
        report.value = value
        guard value.isFinite else {
            report.failures.append("the probe returned \(value)")
            return report
        }
        guard !named.isEmpty else { return report }

        progress("backward")
        module.zeroGrad()
        report.backwardSeconds = timed { output.backward() }.1
        report.withoutGradient = named.filter { $0.1.grad == nil }.map(\.0)
        if report.withoutGradient.count == named.count {
            report.failures.append("no parameter received a gradient: the probe does not depend on the parameters")
            return report
        }
        for (name, tensor) in named {
            if let grad = tensor.grad, !grad.scalars.allSatisfy(\.isFinite) {
                report.failures.append("the gradient of \(name) has non-finite values")
            }
        }

        progress("finite differences on \(min(parameterCount, named.count)) parameters")
        let start = DispatchTime.now()
        report.samples = finiteDifferences(
            named.filter { $0.1.grad != nil }, probeValue: Double(value),
            probe: { withNoGrad { descriptor.probe(module, params, context).item() } })
        report.finiteDifferenceSeconds = seconds(since: start)
        if !report.samples.isEmpty && !report.samples.contains(where: \.isConclusive) {
            report.failures.append(
                "every sampled gradient is below the float32 noise floor, so nothing was verified: the probe "
                    + "barely depends on the parameters (the mean square of a LayerNorm output, for example, "
                    + "is constant); make the probe a value of order 1 that every parameter moves")
        }
        for sample in report.samples where !sample.passed {
            report.failures.append(
                "gradient of \(sample.parameter)[\(sample.index)]: analytic \(format(sample.analytic)), "
                    + "finite differences \(format(sample.numeric)) (tolerance \(format(sample.tolerance)))")
        }
        return report
    }

    /// Runs the backbone on a dummy batch and compares what it emits with what it declares.
    private func checkFeatureMaps(
        _ backbone: Backbone, declared: BackboneCapabilities, into failures: inout [String]
    ) -> [FeatureSpec] {
        let size = declared.imageSize
        let images = Tensor.full([1, declared.inputChannels, size, size], 0.5)
        let maps = withNoGrad { backbone.features(images, mixing: nil) }
        let emitted = maps.map { FeatureSpec(stride: $0.stride, channels: $0.channels) }
        if emitted != declared.outputs {
            failures.append(
                "the backbone emits \(describe(emitted)) but declares \(describe(declared.outputs)) "
                    + "in its capabilities")
        }
        for map in maps where map.height * map.stride != size || map.width * map.stride != size {
            failures.append(
                "the stride-\(map.stride) feature map is \(map.height)x\(map.width) tokens for a \(size)x\(size) "
                    + "image; expected \(size / max(map.stride, 1)) per side")
        }
        return emitted
    }

    private func finiteDifferences(
        _ named: [(String, Tensor)], probeValue: Double, probe: () -> Float
    ) -> [GradientSample] {
        var rng = RandomGenerator(seed: seed &+ 1)
        let tolerance = absoluteTolerancePerUnit * max(1, abs(probeValue))
        var samples: [GradientSample] = []
        for (name, tensor) in spread(named, count: parameterCount) {
            let grad = tensor.grad!.scalars
            for index in elementIndices(grad, using: &rng) {
                let saved = tensor.data[index]
                tensor.data[index] = saved + step
                let plus = Double(probe())
                tensor.data[index] = saved - step
                let minus = Double(probe())
                tensor.data[index] = saved
                let numeric = (plus - minus) / Double(2 * step)
                let analytic = Double(grad[index])
                samples.append(
                    GradientSample(
                        parameter: name, shape: tensor.shape, index: index, analytic: analytic, numeric: numeric,
                        tolerance: relativeTolerance * max(abs(analytic), abs(numeric)) + tolerance,
                        noiseFloor: 2 * tolerance))
            }
        }
        return samples
    }

    /// The largest-gradient elements, then one random element not among them.
    private func elementIndices(_ grad: [Float], using rng: inout RandomGenerator) -> [Int] {
        let largest = grad.indices.sorted { abs(grad[$0]) > abs(grad[$1]) }.prefix(max(0, elementsPerParameter - 1))
        var indices = Array(largest)
        if indices.count < min(elementsPerParameter, grad.count) {
            var candidate = rng.nextInt(below: grad.count)
            while indices.contains(candidate) { candidate = (candidate + 1) % grad.count }
            indices.append(candidate)
        }
        return indices
    }

    /// `count` items spread evenly from first to last.
    private func spread<T>(_ items: [T], count: Int) -> [T] {
        guard items.count > count, count > 1 else { return Array(items.prefix(count)) }
        return (0..<count).map { items[$0 * (items.count - 1) / (count - 1)] }
    }
}

private func describe(_ specs: [FeatureSpec]) -> String {
    "[" + specs.map { "stride \($0.stride) x \($0.channels) ch" }.joined(separator: ", ") + "]"
}

private func format(_ v: Double) -> String { String(format: "%.4e", v) }

private func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

private func timed<R>(_ body: () throws -> R) rethrows -> (R, Double) {
    let start = DispatchTime.now()
    let result = try body()
    return (result, seconds(since: start))
}
