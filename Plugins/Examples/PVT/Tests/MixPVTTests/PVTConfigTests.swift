import MixKit
import MixPVT
import Testing

@Suite struct PVTConfigTests {
    func config(_ values: [String: ParameterValue]) throws -> PVTConfig {
        var params = Parameters(defaultsOf: PVTConfig.schema)
        for (key, value) in values { params[key] = value }
        return try PVTConfig(params)
    }

    @Test func theUsualRatiosSupportMixing() throws {
        #expect(try config([:]).capabilities.supportsMixing)
        #expect(try config(["img_size": .int(64)]).capabilities.supportsMixing)
        // Keys finer than a mask unit still lie inside one.
        #expect(try config(["sr_ratios": .intList([4, 2, 1, 1])]).capabilities.supportsMixing)
    }

    @Test func keysThatStraddleMaskUnitsAreRefused() throws {
        do {
            _ = try config(["img_size": .int(256), "sr_ratios": .intList([16, 4, 2, 1])])
            Issue.record("a 64-pixel key was accepted")
        } catch let error as ComponentConfigurationError {
            #expect(error.parameter == "sr_ratios")
            #expect(
                error.problem.hasPrefix(
                    "stage 0: a reduction ratio of 16 at stride 4 makes every key 64x64 pixels, so the 4x4 key grid "
                        + "of a 256-pixel image does not align with its 8x8 grid of 32x32-pixel MixMAE mask units"),
                "\(error)")
            #expect(error.problem.contains("use a ratio that divides 8"), "\(error)")
            #expect(error.problem.contains("or set mixing: false"), "\(error)")
        }
        // A ratio that divides the stage grid but not the mask unit (12-pixel keys).
        #expect(throws: ComponentConfigurationError.self) {
            try config(["img_size": .int(96), "sr_ratios": .intList([3, 4, 2, 1])])
        }
        #expect(throws: ComponentConfigurationError.self) {
            try config(["img_size": .int(128), "sr_ratios": .intList([8, 4, 2, 2])])
        }
    }

    @Test func withoutMixingAnyDividingRatioIsFine() throws {
        let plain = try config(["img_size": .int(256), "sr_ratios": .intList([16, 4, 2, 1]), "mixing": .bool(false)])
        #expect(!plain.capabilities.supportsMixing)
    }
}
