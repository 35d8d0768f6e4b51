import Foundation
import MixmaeRuns
import MixmaeSupport
import Testing

/// `--grid` parsing and the points a grid expands to, zipped axes included.
@Suite struct SweepSpecTests {
    func spec(_ grids: [String]) throws -> SweepSpec {
        SweepSpec(
            recipe: "r.yaml", recipeSHA256: "0", overrides: [], grid: try grids.map(SweepSpec.axis(parsing:)), then: nil
        )
    }

    @Test func aPlainAxisSplitsOutsideBrackets() throws {
        let axis = try SweepSpec.axis(parsing: "model.backbone.depths=[2,2,6,2], [1,1,2,1]")
        #expect(axis.keys == ["model.backbone.depths"])
        #expect(axis.values == ["[2,2,6,2]", "[1,1,2,1]"])
        #expect(axis.assignments(of: "[2,2,6,2]").map(\.value) == ["[2,2,6,2]"])
    }

    @Test func aZippedAxisSetsItsKeysTogether() throws {
        let sweep = try spec([
            "(mask.mode,schedule.epochs,model.backbone.depths)=(mix,10,[1,1,2,1]),(mask_token, 11, [1,1,2,1])",
            "seed=0,1",
        ])
        #expect(sweep.grid[0].keys == ["mask.mode", "schedule.epochs", "model.backbone.depths"])
        #expect(
            sweep.points.map(\.label) == [
                "mask.mode=mix schedule.epochs=10 model.backbone.depths=[1,1,2,1] seed=0",
                "mask.mode=mix schedule.epochs=10 model.backbone.depths=[1,1,2,1] seed=1",
                "mask.mode=mask_token schedule.epochs=11 model.backbone.depths=[1,1,2,1] seed=0",
                "mask.mode=mask_token schedule.epochs=11 model.backbone.depths=[1,1,2,1] seed=1",
            ])
        #expect(
            sweep.points[3].overrides == [
                "mask.mode=mask_token", "schedule.epochs=11", "model.backbone.depths=[1,1,2,1]", "seed=1",
            ])
        #expect(
            SweepSpec.fill("seed={seed} e={schedule.epochs}", parent: "run:1", point: sweep.points[2]) == "seed=0 e=11")
    }

    @Test func aZippedAxisKeepsTheSpecJSONOfAPlainOne() throws {
        let plain = try spec(["mask.mode=mix,mask_token"])
        #expect(try plain.canonicalJSON().contains(#""grid":[{"key":"mask.mode","values":["mix","mask_token"]}]"#))
        let zipped = try spec(["(mask.mode,seed)=(mix,0),(mask_token,1)"])
        let decoded = try JSONDecoder().decode(SweepSpec.self, from: Data(try zipped.canonicalJSON().utf8))
        #expect(decoded == zipped)
        #expect(decoded.points.map(\.label) == ["mask.mode=mix seed=0", "mask.mode=mask_token seed=1"])
    }

    @Test(arguments: [
        ("(mask.mode,seed)=(mix,0),(mask_token)", "is not a tuple of 2 values"),
        ("(mask.mode,seed)=(mix,0),mask_token", "is not a tuple of 2 values"),
        ("(mask.mode,seed)=(mix,0),(mask_token,1,2)", "is not a tuple of 2 values"),
        ("(mask.mode,seed)=(mix,0),(mask_token,)", "is not a tuple of 2 values"),
        ("(mask.mode)=(mix),(mask_token)", "are not (K1,K2,...)"),
        ("(mask.mode,mask.mode)=(mix,mix),(mask_token,mix)", "a key is listed twice"),
        ("(mask.mode,seed=(mix,0)", "are not (K1,K2,...)"),
        ("(mask.mode,seed)=(mix,0),(mix,0)", "a value is listed twice"),
    ])
    func zippedMistakesNameTheArgument(argument: String, problem: String) {
        #expect {
            try SweepSpec.axis(parsing: argument)
        } throws: { error in
            let message = (error as? InputError).map { $0.what + " " + ($0.hint ?? "") } ?? ""
            return message.contains(problem) && message.contains(argument)
        }
    }
}
