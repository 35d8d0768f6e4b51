import Foundation
import MixmaeData
import TestSupport
import Testing

/// How far an 8-bit image is from a reference one.
struct PixelAgreement: CustomStringConvertible {
    /// Pixels whose every channel is within 1 of the reference.
    var withinOne: Int
    /// Pixels equal in every channel.
    var identical: Int
    var pixels: Int
    var largestDifference: Int

    init(_ image: Image, _ reference: Image) {
        precondition(image.width == reference.width && image.height == reference.height)
        precondition(image.channels == reference.channels)
        let channels = image.channels
        pixels = image.width * image.height
        (withinOne, identical, largestDifference) = (0, 0, 0)
        for p in 0..<pixels {
            var worst = 0
            for c in 0..<channels {
                worst = max(worst, abs(Int(image.pixels[p * channels + c]) - Int(reference.pixels[p * channels + c])))
            }
            largestDifference = max(largestDifference, worst)
            if worst <= 1 { withinOne += 1 }
            if worst == 0 { identical += 1 }
        }
    }

    /// The fixtures' tolerance: within 1 per channel on at least 99% of pixels.
    var withinTolerance: Bool { Double(withinOne) >= 0.99 * Double(pixels) }

    var description: String {
        "\(identical)/\(pixels) identical, \(withinOne)/\(pixels) within 1, largest difference \(largestDifference)"
    }
}

/// timm 0.4.12's RandAugment ops and torchvision's evaluation transform
/// against `fixtures/augment` (made with timm and PIL; see its README).
@Suite struct AugmentFixtureTests {
    static let folder = TestPaths.shared.appendingPathComponent("fixtures/augment")

    struct Fixture {
        var arguments: [String: [Double]]
        var fill: [UInt8]
        var translateConst: Int
    }

    static func fixture() throws -> Fixture {
        let data = try Data(contentsOf: folder.appendingPathComponent("ops.json"))
        let root = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let hparams = try #require(root["hparams"] as? [String: Any])
        let ops = try #require(root["ops"] as? [String: [String: Any]])
        var arguments: [String: [Double]] = [:]
        for (name, entry) in ops {
            arguments[name] = try #require(entry["args"] as? [Any]).map { try #require(($0 as? NSNumber)?.doubleValue) }
        }
        let mean = try #require(hparams["img_mean"] as? [Int])
        return Fixture(
            arguments: arguments, fill: mean.map { UInt8($0) },
            translateConst: try #require(hparams["translate_const"] as? Int))
    }

    static func image(_ name: String) throws -> Image {
        try Image(contentsOfFile: folder.appendingPathComponent(name).path, mode: .rgb)
    }

    @Test func fixtureCoversTheIncreasingSet() throws {
        let fixture = try Self.fixture()
        #expect(Set(fixture.arguments.keys) == Set(RandAugmentOp.increasingSet.map(\.rawValue)))
        #expect(RandAugmentOp.increasingSet.count == 15)
        // timm's img_mean for ImageNet's mean, and translate_const int(224 * 0.45).
        #expect(RandAugment.fill(mean: [0.485, 0.456, 0.406]) == fixture.fill)
        #expect(fixture.translateConst == Int(224 * 0.45))
    }

    /// Each op at magnitude 9, no noise, positive sign: our argument is timm's,
    /// and the output is PIL's bit for bit. (The fixtures' README allows one
    /// level on 1% of pixels for the resampling ops; we reproduce Pillow's
    /// arithmetic, so any difference is a regression.)
    @Test(arguments: RandAugmentOp.increasingSet)
    func opMatchesTimm(_ op: RandAugmentOp) throws {
        let fixture = try Self.fixture()
        let expectedArguments = try #require(fixture.arguments[op.rawValue])
        let argument = op.argument(magnitude: 9, negated: false)
        #expect(argument.map { [$0] } ?? [] == expectedArguments, "\(op.rawValue) argument")
        let input = try Self.image("input.png")
        let expected = try Self.image("\(op.rawValue).png")
        let output = try op.apply(to: input, argument: argument, fill: fixture.fill)
        let agreement = PixelAgreement(output, expected)
        #expect(agreement.withinTolerance, "\(op.rawValue): \(agreement)")
        #expect(output == expected, "\(op.rawValue): \(agreement)")
    }

    /// torchvision `Resize(256, BICUBIC)` + `CenterCrop(224)` on a PIL image,
    /// as the reference evaluates (crop_pct 224/256): bit for bit as well.
    @Test func evaluationTransformMatchesTorchvision() throws {
        let input = try Self.image("eval_input.png")
        let expected = try Self.image("eval_resize256_crop224.png")
        let output = try ResizeCenterCrop(size: 224, cropFraction: 224.0 / 256, filter: .bicubic)(input)
        let agreement = PixelAgreement(output, expected)
        #expect(agreement.withinTolerance, "\(agreement)")
        #expect(output == expected, "\(agreement)")
    }
}
