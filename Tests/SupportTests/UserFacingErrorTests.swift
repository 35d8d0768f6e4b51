import MixmaeSupport
import Testing

/// An error with every part, as a type outside the support target declares one.
private struct Mistake: UserFacingError {
    var what = "2 is out of range"
    var location: ErrorLocation?
    var hint: String? = "use a value in [0, 1]"
    var details: [String] = []
}

@Suite struct UserFacingErrorTests {
    @Test func theReportPutsWhereFirstThenWhatThenTheHint() {
        let mark = SourceMark(file: "r.yaml", line: 4, column: 7)
        #expect(
            Mistake(location: .source(mark, keyPath: "mask.ratio")).report
                == "r.yaml:4:7: error: mask.ratio: 2 is out of range; use a value in [0, 1]")
        #expect(
            Mistake(location: .source(mark)).report == "r.yaml:4:7: error: 2 is out of range; use a value in [0, 1]")
        #expect(
            Mistake(location: .file("dets.json", keyPath: "[3].score"), hint: nil).report
                == "error: dets.json: [3].score: 2 is out of range")
        #expect(
            Mistake(location: .keyPath("--size")).report == "error: --size: 2 is out of range; use a value in [0, 1]")
        #expect(Mistake(location: nil, hint: nil).report == "error: 2 is out of range")
        let withDetails = Mistake(location: nil, hint: "pick one:", details: ["  a", "  b"])
        #expect(withDetails.report == "error: 2 is out of range; pick one:\n  a\n  b")
    }

    @Test func theDescriptionIsTheReportWithoutTheLeadingLabel() {
        let error = Mistake(location: .file("a.png"), hint: nil)
        #expect(error.description == "a.png: 2 is out of range")
        #expect("\(error)" == error.description)
        let located = Mistake(location: .source(SourceMark(file: "r.yaml", line: 1, column: 2)))
        #expect(located.description == located.report)
    }

    @Test func exitCodesAreDocumentedValues() {
        #expect(Mistake().exitCode == 1)
        #expect(ExitStatus.usage == 2)
        #expect(ExitStatus.interrupted(by: 2) == 130 && ExitStatus.interrupted(by: 15) == 143)
    }

    @Test func inputErrorsNameTheirFileOrKey() {
        #expect(InputError(file: "data/val", problem: "no such folder").report == "error: data/val: no such folder")
        #expect(
            InputError(keyPath: "--classes", problem: "must be in 1...10", hint: "fewer classes").description
                == "--classes: must be in 1...10; fewer classes")
        #expect(InputError("no loaded plugin provides 'x'").location == nil)
    }
}
