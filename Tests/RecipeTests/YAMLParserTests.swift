import Foundation
import MixmaeRecipes
import MixmaeSupport
import Testing

@Suite struct YAMLParserTests {
    @Test func marksAreOneBasedAndNameTheFile() throws {
        let root = try YAMLParser.parse(
            """
            optim:
              lr: 0.001
              betas: [0.9, 0.95]
            name: "swin"
            """, file: "r.yaml")
        #expect(root.mark == SourceMark(file: "r.yaml", line: 1, column: 1))
        let lr = try #require(root.node(at: "optim.lr"))
        #expect(lr.mark == SourceMark(file: "r.yaml", line: 2, column: 7))
        #expect(root.mapping?.entry("optim")?.keyMark == SourceMark(file: "r.yaml", line: 1, column: 1))
        #expect(root["optim"]?.mapping?.entry("betas")?.keyMark.column == 3)
        let second = try #require(root.node(at: RecipePath([.key("optim"), .key("betas"), .index(1)])))
        #expect(second.mark == SourceMark(file: "r.yaml", line: 3, column: 16))
        #expect(root["name"]?.mark == SourceMark(file: "r.yaml", line: 4, column: 7))
    }

    @Test func mappingsKeepKeyOrder() throws {
        let root = try YAMLParser.parse("z: 1\na: 2\nm: 3\n", file: "k.yaml")
        #expect(root.mapping?.keys == ["z", "a", "m"])
    }

    @Test func scalarsKeepTextAndStyle() throws {
        let root = try YAMLParser.parse(
            "a: 1e-3\nb: '1e-3'\nc: \"x\"\nd: plain text\ne: |\n  block\n", file: "s.yaml")
        #expect(root["a"]?.scalar == YAMLScalar("1e-3", style: .plain))
        #expect(root["b"]?.scalar == YAMLScalar("1e-3", style: .singleQuoted))
        #expect(root["c"]?.scalar?.style == .doubleQuoted)
        #expect(root["d"]?.scalar?.text == "plain text")
        #expect(root["e"]?.scalar == YAMLScalar("block\n", style: .literal))
    }

    @Test func nullsAreTheirOwnKind() throws {
        let root = try YAMLParser.parse("a:\nb: ~\nc: null\nd: ''\ne: NULL\n", file: "n.yaml")
        for key in ["a", "b", "c", "e"] { #expect(root[key]?.isNull == true, "\(key)") }
        #expect(root["d"]?.scalar?.value == .string(""))
    }

    @Test func emptyTextIsNull() throws {
        #expect(try YAMLParser.parse("", file: "e.yaml").isNull)
        #expect(try YAMLParser.parse("# only a comment\n", file: "e.yaml").isNull)
    }

    @Test func anchorsAndAliasesCopyTheNode() throws {
        let root = try YAMLParser.parse(
            """
            windows: &w [14, 14, 14, 7]
            backbone:
              window_size: *w
              stem: &s {dim: 96}
            other: *s
            """, file: "a.yaml")
        let copied = try #require(root.node(at: "backbone.window_size"))
        #expect(copied.isEquivalent(to: try #require(root["windows"])))
        // The alias keeps the anchored node's marks (where the value was written).
        #expect(copied.mark == SourceMark(file: "a.yaml", line: 1, column: 10))
        #expect(root.value("other.dim") == .int(96))
    }

    @Test func undefinedAliasIsAnError() throws {
        let e = error(as: YAMLError.self) { _ = try YAMLParser.parse("a: 1\nb: *nope\n", file: "u.yaml") }
        let err = try #require(e)
        #expect(err.mark == SourceMark(file: "u.yaml", line: 2, column: 4))
        #expect(err.message.contains("'*nope'"))
    }

    @Test func libyamlErrorsNameFileLineColumnAndProblem() throws {
        let e = error(as: YAMLError.self) {
            _ = try YAMLParser.parse("a: 1\nb: [1, 2\nc: 3\n", file: "bad.yaml")
        }
        let err = try #require(e)
        #expect(err.mark.file == "bad.yaml")
        #expect(err.mark.line == 3)
        #expect(err.mark.column == 2)
        #expect(err.message.contains("did not find expected ',' or ']'"))
        #expect(err.message.contains("while parsing a flow sequence at line 2, column 4"))
        #expect(err.description.hasPrefix("bad.yaml:3:2: error: "))
    }

    @Test func badIndentationReportsLibyamlProblem() throws {
        let e = error(as: YAMLError.self) {
            _ = try YAMLParser.parse("a:\n  b: 1\n c: 2\n", file: "indent.yaml")
        }
        let err = try #require(e)
        #expect(err.mark.line == 3)
        #expect(err.message.contains("did not find expected key"))
    }

    @Test func duplicateKeysAreErrors() throws {
        let e = error(as: YAMLError.self) { _ = try YAMLParser.parse("a: 1\nb: 2\na: 3\n", file: "d.yaml") }
        let err = try #require(e)
        #expect(err.mark == SourceMark(file: "d.yaml", line: 3, column: 1))
        #expect(err.message.contains("duplicate key 'a' (first set at d.yaml:1:1)"))
    }

    @Test func mergeKeysAndSecondDocumentsAreRefused() throws {
        let merge = error(as: YAMLError.self) {
            _ = try YAMLParser.parse("x: &x {a: 1}\ny:\n  <<: *x\n", file: "m.yaml")
        }
        #expect(merge?.mark == SourceMark(file: "m.yaml", line: 3, column: 3))
        #expect(merge?.message.contains("merge keys") == true)
        let two = error(as: YAMLError.self) { _ = try YAMLParser.parse("a: 1\n---\nb: 2\n", file: "t.yaml") }
        #expect(two?.mark.line == 2)
        #expect(two?.message.contains("second YAML document") == true)
    }

    @Test func tagsAreKept() throws {
        let root = try YAMLParser.parse("a: !delete\nb: !replace {x: 1}\n", file: "t.yaml")
        #expect(root["a"]?.tag == "!delete")
        #expect(root["a"]?.isNull == true)
        #expect(root["b"]?.tag == "!replace")
    }

    @Test func unreadableFileIsAnError() throws {
        let e = error(as: YAMLError.self) { _ = try YAMLParser.parse(file: "/nonexistent/x.yaml") }
        #expect(e?.message.contains("no such file") == true)
    }

    @Test func aliasBombIsStopped() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            text += "a\(i): &a\(i) [\(refs)]\n"
        }
        let e = error(as: YAMLError.self) { _ = try YAMLParser.parse(text, file: "bomb.yaml") }
        #expect(e?.message.contains("more than") == true)
    }
}

@Suite struct ScalarTypingTests {
    @Test(arguments: [
        ("true", ScalarValue.bool(true)), ("False", .bool(false)), ("TRUE", .bool(true)),
        ("42", .int(42)), ("-7", .int(-7)), ("+3", .int(3)), ("1_000", .int(1000)),
        ("0x1F", .int(31)), ("0o17", .int(15)),
        ("1e-3", .float(0.001)), ("1.5e-4", .float(0.00015)), ("1.0e-8", .float(1e-8)),
        ("0.5", .float(0.5)), (".5", .float(0.5)), ("-2.5", .float(-2.5)), ("1.", .float(1)),
        ("3E+2", .float(300)), (".inf", .float(.infinity)), ("-.Inf", .float(-.infinity)),
        ("swin", .string("swin")), ("yes", .string("yes")), ("1e", .string("1e")),
        ("1_", .string("1_")), ("1__0", .string("1__0")), ("0x", .string("0x")),
        ("1.2.3", .string("1.2.3")), ("-", .string("-")), ("e3", .string("e3")),
        ("99999999999999999999", .float(1e20)),
    ])
    func plainScalars(text: String, expected: ScalarValue) {
        #expect(ScalarValue.resolve(plain: text) == expected)
    }

    @Test func nanIsAFloat() {
        guard case .float(let v) = ScalarValue.resolve(plain: ".nan") else {
            Issue.record("not a float")
            return
        }
        #expect(v.isNaN)
    }

    @Test(arguments: ["", "~", "null", "Null", "NULL"])
    func nulls(text: String) {
        #expect(ScalarValue.resolve(plain: text) == nil)
    }

    @Test func quotedScalarsAreAlwaysStrings() throws {
        let root = try YAMLParser.parse("a: '1'\nb: \"true\"\nc: 'null'\n", file: "q.yaml")
        #expect(root.value("a") == .string("1"))
        #expect(root.value("b") == .string("true"))
        #expect(root.value("c") == .string("null"))
    }
}
