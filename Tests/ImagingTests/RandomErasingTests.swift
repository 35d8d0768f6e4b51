import Foundation
import MixKit
import MixmaeData
import Testing

/// timm's RandomErasing: how often, where, how large, and what it writes.
@Suite struct RandomErasingTests {
    static let (channels, height, width) = (3, 56, 48)

    /// Runs `erasing` on a canvas of a sentinel value and returns the canvas and the rectangles.
    static func erase(_ erasing: RandomErasing, _ rng: inout RandomGenerator) -> ([Float], [RandomErasing.Rectangle]) {
        var values = [Float](repeating: 42, count: channels * height * width)
        let rectangles = values.withUnsafeMutableBufferPointer {
            erasing($0.baseAddress!, channels: channels, height: height, width: width, using: &rng)
        }
        return (values, rectangles)
    }

    @Test func erasesAQuarterOfTheImagesWithTheReferenceSettings() {
        let erasing = RandomErasing(probability: 0.25, mode: .pixel, maxCount: 1)
        var rng = RandomGenerator(seed: 21)
        var erased = 0
        let trials = 8000
        for _ in 0..<trials {
            let (_, rectangles) = Self.erase(erasing, &rng)
            #expect(rectangles.count <= 1)
            erased += rectangles.count
        }
        #expect(abs(Double(erased) / Double(trials) - 0.25) < 0.015)
    }

    /// Every rectangle lies strictly inside the image, covers 2%...1/3 of it
    /// (up to rounding of its sides), has a log-uniform aspect ratio within
    /// 0.3...1/0.3, and its pixels (only its pixels) become standard normal noise.
    @Test func geometryAndValuesOfPixelMode() {
        let erasing = RandomErasing(probability: 1, mode: .pixel)
        var rng = RandomGenerator(seed: 8)
        let (channels, height, width) = (Self.channels, Self.height, Self.width)
        var logAspects: [Double] = []
        var areas: [Double] = []
        var noise: [Double] = []
        for _ in 0..<3000 {
            let (values, rectangles) = Self.erase(erasing, &rng)
            guard let r = rectangles.first else { continue }
            #expect(rectangles.count == 1)
            #expect(r.top >= 0 && r.left >= 0 && r.top + r.height <= height && r.left + r.width <= width)
            #expect(r.height < height && r.width < width)
            let area = Double(r.height * r.width) / Double(height * width)
            areas.append(area)
            #expect(area > 0.012 && area < 0.36, "\(r)")
            logAspects.append(Foundation.log(Double(r.height) / Double(r.width)))
            for c in 0..<channels {
                for y in 0..<height {
                    for x in 0..<width {
                        let value = values[(c * height + y) * width + x]
                        let inside =
                            (r.top..<(r.top + r.height)).contains(y) && (r.left..<(r.left + r.width)).contains(x)
                        if inside {
                            noise.append(Double(value))
                        } else if value != 42 {
                            Issue.record("outside \(r) changed")
                        }
                    }
                }
            }
        }
        #expect(areas.count == 3000, "every draw found a rectangle in 10 tries")
        let meanArea = areas.reduce(0, +) / Double(areas.count)
        // Areas are uniform in [0.02, 1/3]; large ones are retried when a side
        // does not fit, which pulls the mean a little below the midpoint 0.177.
        #expect(meanArea > 0.14 && meanArea < 0.18, "mean area \(meanArea)")
        let meanLogAspect = logAspects.reduce(0, +) / Double(logAspects.count)
        #expect(abs(meanLogAspect) < 0.05, "aspect ratios are log-symmetric: \(meanLogAspect)")
        #expect(logAspects.allSatisfy { abs($0) < Foundation.log(1 / 0.3) + 0.35 })
        let mean = noise.reduce(0, +) / Double(noise.count)
        let sd = (noise.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(noise.count)).squareRoot()
        #expect(abs(mean) < 0.01 && abs(sd - 1) < 0.01, "noise mean \(mean) sd \(sd)")
    }

    @Test func constAndRandModes() {
        var rng = RandomGenerator(seed: 4)
        let (channels, height, width) = (Self.channels, Self.height, Self.width)
        for mode in [RandomErasing.Mode.const, .rand] {
            for _ in 0..<50 {
                let (values, rectangles) = Self.erase(RandomErasing(probability: 1, mode: mode), &rng)
                let r = rectangles[0]
                for c in 0..<channels {
                    let corner = values[(c * height + r.top) * width + r.left]
                    if mode == .const { #expect(corner == 0) }
                    for y in r.top..<(r.top + r.height) {
                        for x in r.left..<(r.left + r.width) {
                            #expect(values[(c * height + y) * width + x] == corner)
                        }
                    }
                }
            }
        }
    }

    /// With maxCount 3 the count is uniform in 1...3 and each box gets a third
    /// of the area budget.
    @Test func severalRectangles() {
        var rng = RandomGenerator(seed: 6)
        var counts = [0, 0, 0, 0]
        for _ in 0..<3000 {
            let (_, rectangles) = Self.erase(RandomErasing(probability: 1, mode: .pixel, maxCount: 3), &rng)
            counts[rectangles.count] += 1
        }
        #expect(counts[0] == 0)
        for n in 1...3 { #expect(abs(Double(counts[n]) / 3000 - 1.0 / 3) < 0.04, "\(counts)") }
    }

    @Test func sameSeedSameErasure() {
        var a = RandomGenerator(seed: 99)
        var b = RandomGenerator(seed: 99)
        let erasing = RandomErasing(probability: 0.5)
        for _ in 0..<20 { #expect(Self.erase(erasing, &a) == Self.erase(erasing, &b)) }
    }
}

/// The training transform's stages and order.
@Suite struct TrainingAugmentationTests {
    @Test func appliesCropFlipRandAugmentNormaliseEraseInOrder() throws {
        let image = try patternImage(width: 80, height: 60, channels: 3)
        let crop = RandomResizedCrop(size: 32)
        let randAugment = RandAugment(probability: 1)
        let erasing = RandomErasing(probability: 1, mode: .pixel)
        let augmentation = TrainingAugmentation(crop: crop, randAugment: randAugment, erasing: erasing)
        for seed in UInt64(0)..<10 {
            var rng = RandomGenerator(seed: seed)
            var values = [Float](repeating: 0, count: augmentation.valueCount)
            try values.withUnsafeMutableBufferPointer { try augmentation(image, into: $0.baseAddress!, using: &rng) }

            // The same stages by hand, from the same generator.
            var manual = RandomGenerator(seed: seed)
            var out = try crop(image, using: &manual)
            if manual.nextDouble() < 0.5 { out = out.flippedHorizontally() }
            out = try randAugment(out, using: &manual)
            var expected = [Float](repeating: 0, count: 3 * 32 * 32)
            expected.withUnsafeMutableBufferPointer {
                Normalization.imagenet.write(out, to: $0.baseAddress!)
                erasing($0.baseAddress!, channels: 3, height: 32, width: 32, using: &manual)
            }
            #expect(values == expected)
            #expect(rng == manual)
        }
    }

    @Test func withoutRandAugmentOrErasingItIsCropFlipNormalise() throws {
        let image = try patternImage(width: 50, height: 70, channels: 3)
        let augmentation = TrainingAugmentation(
            crop: RandomResizedCrop(size: 24), erasing: RandomErasing(probability: 0))
        var rng = RandomGenerator(seed: 1)
        var manual = rng
        var values = [Float](repeating: 0, count: augmentation.valueCount)
        try values.withUnsafeMutableBufferPointer { try augmentation(image, into: $0.baseAddress!, using: &rng) }
        var out = try RandomResizedCrop(size: 24)(image, using: &manual)
        if manual.nextDouble() < 0.5 { out = out.flippedHorizontally() }
        var expected = [Float](repeating: 0, count: 3 * 24 * 24)
        expected.withUnsafeMutableBufferPointer { Normalization.imagenet.write(out, to: $0.baseAddress!) }
        #expect(values == expected)
    }

    @Test func refusesNonRGBImages() throws {
        let gray = try Image(width: 30, height: 30, channels: 1)
        var rng = RandomGenerator(seed: 0)
        let augmentation = TrainingAugmentation(crop: RandomResizedCrop(size: 16))
        #expect(throws: ImageError.self) { try augmentation.augmentedImage(gray, using: &rng) }
    }
}

/// torchvision's CenterCrop offset rounds half to even.
@Suite struct CenterCropOffsetTests {
    @Test func oddMarginsRoundHalfToEven() throws {
        // 224 x 259: no resize at crop fraction 1; the margin 35 gives offset round(17.5) = 18.
        let tall = try patternImage(width: 224, height: 259, channels: 3)
        let out = try ResizeCenterCrop(size: 224, cropFraction: 1)(tall)
        #expect(out == (try tall.cropped(x: 0, y: 18, width: 224, height: 224)))
        // Margin 33: round(16.5) = 16.
        let other = try patternImage(width: 224, height: 257, channels: 3)
        #expect(
            try ResizeCenterCrop(size: 224, cropFraction: 1)(other)
                == other.cropped(x: 0, y: 16, width: 224, height: 224))
    }
}
