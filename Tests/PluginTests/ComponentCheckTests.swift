import Foundation
import MixKit
import MixmaePluginHost
import TestSupport
import Testing

extension InProcess {
    /// `ComponentCheck` (MixKitTesting's, as `plugins check` runs it) in this process.
    @Suite struct ComponentCheckTests {
        @Test func aCorrectComponentPassesWithInformativeGradients() throws {
            let dir = try TemporaryFolder()
            let catalog = try catalog([fixture("Good")], in: dir)
            var steps: [String] = []
            let report = ComponentCheck().run(try #require(catalog.component("toy-backbone"))) { steps.append($0) }
            #expect(report.passed, "\(report.failures)")
            #expect(report.featureMaps == [FeatureSpec(stride: 8, channels: 8), FeatureSpec(stride: 16, channels: 16)])
            #expect(report.samples.count == 12)
            #expect(report.samples.filter(\.isConclusive).count >= 8)
            #expect(report.withoutGradient.isEmpty)
            #expect(report.tensorCount == 10)
            #expect(steps.first == "building toy-backbone with its default parameters")
        }

        @Test func aWrongGradientFails() throws {
            let dir = try TemporaryFolder()
            let catalog = try catalog([fixture("Good")], in: dir)
            let report = ComponentCheck().run(try #require(catalog.component("toy-broken-gradient")))
            #expect(!report.passed)
            #expect(report.samples.contains { !$0.passed && $0.isConclusive })
            // The detached factor halves the recorded gradient.
            for sample in report.samples where sample.isConclusive {
                #expect(abs(sample.numeric / sample.analytic - 2) < 0.05)
            }
            #expect(report.failures.first?.hasPrefix("gradient of fc.") == true)
        }

        @Test func requiredParametersAreReportedNotGuessed() throws {
            let dir = try TemporaryFolder()
            let catalog = try catalog([fixture("Good")], in: dir)
            let report = ComponentCheck().run(try #require(catalog.component("toy-neck")))
            #expect(
                report.failures == [
                    "required parameters without a default (out_channels): plugins check builds with defaults only; "
                        + "check this component through a recipe instead"
                ])
            #expect(report.buildSeconds == nil)
        }

        @Test func declaredFeatureMapsMustMatchTheEmittedOnes() throws {
            let dir = try TemporaryFolder()
            let catalog = try catalog([fixture("Good")], in: dir)
            var component = try #require(catalog.component("toy-backbone"))
            let honest = component.descriptor.capabilities!
            component.descriptor.capabilities = { params in
                var caps = honest(params)
                caps.outputs[1].channels = 99
                return caps
            }
            let report = ComponentCheck().run(component)
            #expect(
                report.failures == [
                    "the backbone emits [stride 8 x 8 ch, stride 16 x 16 ch] but declares "
                        + "[stride 8 x 8 ch, stride 16 x 99 ch] in its capabilities"
                ])
        }

        /// A probe whose dependence on the parameters is lost in the float32 rounding of
        /// its value (1e-6 of it on top of 1). Scaling a probe alone changes nothing:
        /// float32 precision is relative, and so is the measured noise.
        @Test func aProbeThatBarelyMovesVerifiesNothingAndFails() throws {
            let dir = try TemporaryFolder()
            let catalog = try catalog([fixture("Good")], in: dir)
            var component = try #require(catalog.component("toy-backbone"))
            let probe = component.descriptor.probe
            component.descriptor.probe = { probe($0, $1, $2) * 1e-6 }
            #expect(ComponentCheck().run(component).passed)
            component.descriptor.probe = { probe($0, $1, $2) * 1e-6 + 1 }
            let report = ComponentCheck().run(component)
            #expect(!report.passed)
            #expect(report.samples.allSatisfy { $0.passed && !$0.isConclusive })
            #expect(report.failures.count == 1)
            #expect(report.failures.first?.hasPrefix("every sampled gradient is below the float32 noise floor") == true)
        }
    }
}
