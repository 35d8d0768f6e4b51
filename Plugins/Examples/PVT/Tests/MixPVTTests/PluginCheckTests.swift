import MixKit
import MixKitTesting
import MixPVT
import Testing

/// What `mixmae plugins check pvt` runs, from MixKitTesting, on the descriptor the
/// plugin registers: build, probe forward and backward, the feature maps against
/// the declared capabilities, and finite differences of the largest gradients.
@Suite struct PluginCheckTests {
    @Test func passesTheHostsCheckOnASmallImage() {
        var params = Parameters(defaultsOf: PVTConfig.schema)
        params["img_size"] = .int(64)
        let report = ComponentCheck().run(PVTPlugin.descriptor, parameters: params)
        #expect(report.passed, "\(report.failures)")
        #expect(report.featureMaps.map(\.stride) == [4, 8, 16, 32])
        #expect(report.withoutGradient.isEmpty)
        #expect(report.samples.count == 12 && report.samples.contains(where: \.isConclusive))
    }

    /// Built twice from the same seed, the backbone is the same; the generator is
    /// the one the host passes in the build context, not a global one.
    @Test func buildsFromTheContextsGenerator() throws {
        var params = Parameters(defaultsOf: PVTConfig.schema)
        params["img_size"] = .int(64)
        func weights(_ seed: UInt64) throws -> [Float] {
            let module = try PVTPlugin.descriptor.build(params, BuildContext(rng: RandomSource(seed: seed)))
            return module.namedParameters().first { $0.0 == "block1.0.attn.q.weight" }!.1.scalars
        }
        #expect(try weights(3) == weights(3))
        #expect(try weights(3) != weights(4))
    }
}
