import Foundation
import MixKit
import MixmaeData
import Testing

/// RandAugment's configuration, its random draws, and the geometric ops'
/// behaviour where the answer is known without PIL.
@Suite struct RandAugmentPolicyTests {
    @Test func parsesTheReferenceConfig() throws {
        let augment = try RandAugment(config: "rand-m9-mstd0.5-inc1")
        #expect(augment.ops == RandAugmentOp.increasingSet)
        #expect(augment.magnitude == 9)
        #expect(augment.magnitudeStd == 0.5)
        #expect(augment.layers == 2)
        #expect(augment.probability == 0.5)
        #expect(augment.fill == [124, 116, 104])
        #expect(augment == RandAugment())

        let plain = try RandAugment(config: "rand-n3")
        #expect(plain.ops == RandAugmentOp.standardSet)
        #expect(plain.magnitude == 10 && plain.magnitudeStd == 0 && plain.layers == 3)
    }

    @Test(arguments: [
        ("augmix-m9", "must start with 'rand'"),
        ("rand-m11", "0...10"),
        ("rand-mx", "has no value"),
        ("rand-inc0", "inc1"),
        ("rand-w0", "not supported"),
        ("rand-q3", "unknown section 'q3'"),
        ("rand-mstd-1", "has no value"),
    ])
    func refusesBadConfigs(_ config: String, _ message: String) {
        let error = #expect(throws: RandAugmentConfigError.self) { try RandAugment(config: config) }
        #expect(error?.description.contains(config) == true)
        #expect(error?.description.contains(message) == true, "\(String(describing: error))")
    }

    /// Over many images: ops chosen uniformly, half of them applied, the
    /// magnitude normal around 9 (sd 0.5), the sign of signed ops a coin flip.
    @Test func drawsFollowTimmsDistributions() throws {
        let augment = RandAugment()
        var rng = RandomGenerator(seed: 11)
        let images = 30_000
        var applied = 0
        var perOp: [RandAugmentOp: Int] = [:]
        var rotations: [Double] = []
        for _ in 0..<images {
            let steps = augment.draw(using: &rng)
            #expect(steps.count <= 2)
            applied += steps.count
            for step in steps {
                perOp[step.op, default: 0] += 1
                if step.op == .rotate, let degrees = step.argument { rotations.append(degrees) }
            }
        }
        let draws = Double(images * 2)
        #expect(abs(Double(applied) / draws - 0.5) < 0.01)
        let expectedPerOp = Double(applied) / 15
        for op in RandAugmentOp.increasingSet {
            let count = Double(perOp[op] ?? 0)
            #expect(abs(count - expectedPerOp) < 5 * expectedPerOp.squareRoot(), "\(op): \(count)")
        }
        // Rotate's argument is 3 degrees per magnitude step, with a random sign.
        let magnitudes = rotations.map { abs($0) / 3 }
        let mean = magnitudes.reduce(0, +) / Double(magnitudes.count)
        let sd = (magnitudes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(magnitudes.count)).squareRoot()
        #expect(abs(mean - 9) < 0.03, "mean magnitude \(mean)")
        #expect(abs(sd - 0.5) < 0.03, "magnitude sd \(sd)")
        #expect(magnitudes.allSatisfy { $0 <= 10 })
        let negative = Double(rotations.filter { $0 < 0 }.count) / Double(rotations.count)
        #expect(abs(negative - 0.5) < 0.03)
    }

    @Test func magnitudeIsClippedToTheScale() {
        let augment = RandAugment(ops: [.shearX], magnitude: 9, magnitudeStd: 5, probability: 1)
        var rng = RandomGenerator(seed: 3)
        var atTop = 0
        for _ in 0..<2000 {
            for step in augment.draw(using: &rng) {
                let level = abs(step.argument!) / 0.3 * 10
                #expect(level <= 10 + 1e-9)
                if abs(level - 10) < 1e-9 { atTop += 1 }
            }
        }
        // P(N(9, 5) > 10) = 0.42: about that share sits at the top of the scale.
        #expect(abs(Double(atTop) / 4000 - 0.42) < 0.04)
    }

    @Test func levelMappingsAtTheEnds() {
        #expect(RandAugmentOp.posterizeIncreasing.argument(magnitude: 0, negated: false) == 4)
        #expect(RandAugmentOp.posterizeIncreasing.argument(magnitude: 10, negated: false) == 0)
        #expect(RandAugmentOp.solarizeIncreasing.argument(magnitude: 0, negated: false) == 256)
        #expect(RandAugmentOp.solarizeAdd.argument(magnitude: 10, negated: false) == 110)
        #expect(RandAugmentOp.colorIncreasing.argument(magnitude: 10, negated: true)! == 1 - 0.9)
        #expect(RandAugmentOp.color.argument(magnitude: 0, negated: true) == 0.1)
        #expect(RandAugmentOp.rotate.argument(magnitude: 10, negated: true) == -30)
        #expect(RandAugmentOp.translateYRel.argument(magnitude: 10, negated: false) == 0.45)
        #expect(RandAugmentOp.invert.argument(magnitude: 5, negated: false) == nil)
    }

    @Test func sameSeedSameImage() throws {
        let image = try patternImage(width: 40, height: 32, channels: 3)
        let augment = RandAugment(probability: 1)
        var a = RandomGenerator(seed: 5)
        var b = RandomGenerator(seed: 5)
        for _ in 0..<20 { #expect(try augment(image, using: &a) == augment(image, using: &b)) }
    }

    /// Whole-pixel translations and quarter turns need no interpolation: the
    /// bicubic transform must move pixels exactly and fill what it uncovers.
    @Test func wholePixelTranslationsAreExact() throws {
        let image = try patternImage(width: 40, height: 32, channels: 3)
        let fill: [UInt8] = [124, 116, 104]
        for (op, fraction) in [(RandAugmentOp.translateXRel, 0.25), (.translateXRel, -0.25), (.translateYRel, 0.25)] {
            let out = try op.apply(to: image, argument: fraction, fill: fill)
            let (dx, dy) =
                op == .translateXRel ? (Int(fraction * 40), 0) : (0, Int(fraction * 32))
            for y in 0..<32 {
                for x in 0..<40 {
                    let (sx, sy) = (x + dx, y + dy)
                    for c in 0..<3 {
                        let expected =
                            (0..<40).contains(sx) && (0..<32).contains(sy) ? image[x: sx, y: sy, channel: c] : fill[c]
                        #expect(out[x: x, y: y, channel: c] == expected)
                    }
                }
            }
        }
        #expect(try RandAugmentOp.shearX.apply(to: image, argument: 0, fill: fill) == image)
        #expect(try RandAugmentOp.rotate.apply(to: image, argument: 0, fill: fill) == image)
    }

    @Test func quarterTurnsAreTranspositions() throws {
        let square = try patternImage(width: 9, height: 9, channels: 3)
        let fill: [UInt8] = [0, 0, 0]
        let left = try square.rotated(degrees: 90, fill: fill)
        #expect(left[x: 0, y: 0, channel: 1] == square[x: 8, y: 0, channel: 1])
        #expect(left[x: 0, y: 8, channel: 2] == square[x: 0, y: 0, channel: 2])
        #expect(try square.rotated(degrees: -90, fill: fill) == square.rotated(degrees: 270, fill: fill))
        #expect(try square.rotated(degrees: 270, fill: fill).rotated(degrees: 90, fill: fill) == square)
        let wide = try patternImage(width: 10, height: 6, channels: 3)
        let half = try wide.rotated(degrees: 180, fill: fill)
        #expect(half[x: 0, y: 0, channel: 0] == wide[x: 9, y: 5, channel: 0])
        #expect(try wide.rotated(degrees: -360, fill: fill) == wide)
    }

    @Test func pointOpsOnKnownValues() throws {
        let image = try Image(
            width: 4, height: 1, channels: 3, pixels: [0, 10, 20, 100, 127, 128, 200, 250, 255, 60, 61, 62])
        #expect(try image.inverted().pixels == image.pixels.map { 255 - $0 })
        #expect(try image.posterized(keepingBits: 1).pixels == image.pixels.map { $0 & 0x80 })
        #expect(try image.posterized(keepingBits: 0).pixels.allSatisfy { $0 == 0 })
        #expect(try image.solarized(threshold: 128).pixels == image.pixels.map { $0 < 128 ? $0 : 255 - $0 })
        #expect(
            try image.solarizeAdded(99).pixels == image.pixels.map { $0 < 128 ? UInt8(min(255, Int($0) + 99)) : $0 })
        // Channel 0 holds 0, 100, 200, 60: stretched to 0...255 by int(v * 255 / 200).
        #expect(try image.autocontrasted()[x: 3, y: 0, channel: 0] == UInt8(60 * 255 / 200))
        let rgba = try Image(width: 1, height: 1, channels: 4, filledWith: 9)
        #expect(throws: ImageError.self) { try rgba.equalized() }
    }

    /// (The fixture's input already spans 0...255 in every channel, so its
    /// AutoContrast case is the identity; these check the stretch itself.)
    @Test func autocontrastStretchesEachChannel() throws {
        // Gray levels 50, 100, 150: scale 2.55, offset -127.5; 100 -> int(127.5) = 127.
        // Second channel constant (left alone), third 0...255 (identity).
        let image = try Image(width: 3, height: 1, channels: 3, pixels: [50, 9, 0, 100, 9, 128, 150, 9, 255])
        #expect(try image.autocontrasted().pixels == [0, 9, 0, 127, 9, 128, 255, 9, 255])
    }

    /// Pillow's equalize: 510 pixels at 10, 255 at 20, one at 30 give steps of
    /// (766 - 1) / 255 = 3 and the table n / 3 with n starting at 1.
    @Test func equalizeSpreadsTheCumulativeHistogram() throws {
        let values = [UInt8](repeating: 10, count: 510) + [UInt8](repeating: 20, count: 255) + [30]
        let image = try Image(width: values.count, height: 1, channels: 1, pixels: values)
        let out = try image.equalized()
        #expect(out[x: 0, y: 0, channel: 0] == 0)
        #expect(out[x: 510, y: 0, channel: 0] == 170)
        #expect(out[x: 765, y: 0, channel: 0] == 255)
        // A channel with one value is left alone.
        let flat = try Image(width: 4, height: 4, channels: 3, filledWith: 77)
        #expect(try flat.equalized() == flat)
    }

    /// Blending with alpha outside [0, 1] extrapolates and clips; inside, it interpolates.
    @Test func blendFollowsPillow() throws {
        let dark = try Image(width: 3, height: 1, channels: 1, pixels: [0, 100, 200])
        let light = try Image(width: 3, height: 1, channels: 1, pixels: [100, 150, 250])
        #expect(Image.blend(dark, light, alpha: 0.5).pixels == [50, 125, 225])
        #expect(Image.blend(dark, light, alpha: 1.81).pixels == [181, 190, 255])
        // Pillow computes in single precision: 1.18f * 50 = 58.999996, truncated to 58 (59 in double).
        let black = try Image(width: 1, height: 1, channels: 1, pixels: [0])
        let level50 = try Image(width: 1, height: 1, channels: 1, pixels: [50])
        #expect(Image.blend(black, level50, alpha: 1.18).pixels == [58])
        #expect(Image.blend(dark, light, alpha: -1).pixels == [0, 50, 150])
        let gray = try Image(width: 2, height: 2, channels: 3, filledWith: 77)
        #expect(try gray.enhanced(.color, factor: 1.9) == gray)
        #expect(try gray.enhanced(.contrast, factor: 0.1) == gray)
        #expect(try gray.enhanced(.brightness, factor: 0).pixels.allSatisfy { $0 == 0 })
    }
}
