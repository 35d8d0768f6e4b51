import Dispatch
import MixKit

/// The checks `mixmae plugins check` runs on a component, for a plugin's own
/// tests: build it, run its probe forward and backward, compare a backbone's
/// feature maps with its declared capabilities, and compare gradient elements
/// with finite differences (``GradientCheck``).
///
/// The component is built from a ``RandomSource`` seeded with ``seed`` (two
/// runs build the same weights) and runs in evaluation mode (no dropout or drop
/// path), so that the probe is a deterministic function of the parameters.
///
/// ```swift
/// @Test func passesTheHostsCheck() {
///     var params = Parameters(defaultsOf: MyBackbone.descriptor.parameters)
///     params["img_size"] = .int(64)            // small, for a quick test
///     let report = ComponentCheck().run(MyBackbone.descriptor, parameters: params)
///     #expect(report.passed, "\(report.failures)")
/// }
/// ```
public struct ComponentCheck: Sendable {
    /// How many parameter tensors to spot-check, spread over the module.
    public var parameterCount = 4
    /// How many elements of each: the largest gradients, then one at random.
    public var elementsPerParameter = 3
    /// The finite-difference check (5% relative tolerance: probes run whole networks).
    public var gradientCheck = GradientCheck(relativeTolerance: 5e-2)
    /// Seed of the component's generator (``BuildContext/rng``).
    public var seed: UInt64 = 0

    public init() {}

    /// Everything the check measured, and what failed.
    public struct Report: Sendable {
        public var id: String
        public var kind: ComponentKind
        public var version: String
        /// The library the component came from, as the caller named it.
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

    /// Runs the check with `parameters` (the component's defaults when nil);
    /// `progress` receives a line before each slow step.
    public func run(
        _ descriptor: ComponentDescriptor, parameters: Parameters? = nil, library: String = "",
        progress: (String) -> Void = { _ in }
    ) -> Report {
        let params = parameters ?? Parameters(defaultsOf: descriptor.parameters)
        var report = Report(
            id: descriptor.id, kind: descriptor.kind, version: descriptor.version, library: library,
            parameters: params)
        let missing = descriptor.parameters.filter { $0.isRequired && params.values[$0.name] == nil }.map(\.name)
        guard missing.isEmpty else {
            report.failures.append(
                parameters == nil
                    ? "required parameters without a default (\(missing.joined(separator: ", "))): plugins check "
                        + "builds with defaults only; check this component through a recipe instead"
                    : "no value for the required parameters \(missing.joined(separator: ", "))")
            return report
        }

        progress("building \(descriptor.id) with \(parameters == nil ? "its default" : "the given") parameters")
        var context = descriptor.exampleContext(params)
        context.rng = RandomSource(seed: seed)
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

        let checked = spread(named.filter { $0.1.grad != nil }, count: parameterCount)
        progress("finite differences on \(checked.count) parameters")
        var rng = RandomGenerator(seed: seed &+ 1)
        let (gradients, seconds) = timed {
            gradientCheck.compare(
                checked.map { (name: $0.0, tensor: $0.1) }, elements: .largestThenRandom(elementsPerParameter),
                using: &rng
            ) {
                GradientCheck.LossValue(float32: withNoGrad { descriptor.probe(module, params, context) }.item())
            }
        }
        report.finiteDifferenceSeconds = seconds
        report.samples = gradients.samples
        if !report.samples.isEmpty && !report.samples.contains(where: \.isConclusive) {
            report.failures.append(
                "every sampled gradient is below the float32 noise floor, so nothing was verified: the probe "
                    + "barely depends on the parameters (the mean square of a LayerNorm output, for example, "
                    + "is constant); make the probe a value of order 1 that every parameter moves")
        }
        report.failures += gradients.failures
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

    /// `count` items spread evenly from first to last.
    private func spread<T>(_ items: [T], count: Int) -> [T] {
        guard items.count > count, count > 1 else { return Array(items.prefix(count)) }
        return (0..<count).map { items[$0 * (items.count - 1) / (count - 1)] }
    }
}

private func describe(_ specs: [FeatureSpec]) -> String {
    "[" + specs.map { "stride \($0.stride) x \($0.channels) ch" }.joined(separator: ", ") + "]"
}

private func timed<R>(_ body: () throws -> R) rethrows -> (R, Double) {
    let start = DispatchTime.now()
    let result = try body()
    return (result, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
}
