import Foundation
import MixKit
import MixmaeData
import MixmaeSupport
import TestSupport
import Testing

/// Writes `count` coordinate images of `width` x `height` and their label maps into
/// `root/images[/split]` and `root/annotations[/split]`; stems `s0`, `s1`, ...
func writeSegmentationPairs(root: URL, split: String?, count: Int, width: Int, height: Int) throws {
    for kind in ["images", "annotations"] {
        let folder =
            split.map { root.appendingPathComponent(kind).appendingPathComponent($0) }
            ?? root.appendingPathComponent(kind)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for index in 0..<count {
            let file = folder.appendingPathComponent("s\(index).png").path
            if kind == "images" {
                try coordinateImage(width: width, height: height).write(toFile: file)
            } else {
                try coordinateLabels(width: width, height: height).write(toFile: file)
            }
        }
    }
}

@Suite struct SegmentationDataTests {
    @Test func pairsImagesAndLabelMapsByStemInBothLayouts() throws {
        let root = try TemporaryFolder().url
        try writeSegmentationPairs(root: root, split: "training", count: 3, width: 8, height: 6)
        let ade = try SegmentationDataset(root: root.path, split: "training")
        #expect(ade.pairs.map(\.stem) == ["s0", "s1", "s2"])
        #expect(ade.pairs[1].imagePath == root.path + "/images/training/s1.png")
        #expect(ade.pairs[1].labelPath == root.path + "/annotations/training/s1.png")
        let (image, labels) = try ade.load(at: 2)
        #expect(image.channels == 3 && labels.channels == 1)
        #expect(labels == (try coordinateLabels(width: 8, height: 6)))

        let plain = try TemporaryFolder().url
        try writeSegmentationPairs(root: plain, split: nil, count: 2, width: 8, height: 6)
        #expect(try SegmentationDataset(root: plain.path).pairs.count == 2)

        try FileManager.default.removeItem(at: plain.appendingPathComponent("annotations/s1.png"))
        let error = #expect(throws: InputError.self) { try SegmentationDataset(root: plain.path) }
        #expect(error?.description.contains("1 file(s) have no partner of the same stem") == true)
        #expect(error?.description.contains("s1.png") == true)
        #expect(throws: InputError.self) { try SegmentationDataset(root: plain.path, split: "validation") }
    }

    @Test func reduceZeroLabelIgnoresZeroAndShiftsTheRest() throws {
        let root = try TemporaryFolder().url
        try writeSegmentationPairs(root: root, split: nil, count: 1, width: 11, height: 1)
        let labels = try SegmentationDataset(root: root.path, reduceZeroLabel: true).loadLabels(at: 0)
        #expect(labels.pixels == [255] + Array(0...9))
    }

    @Test func aLabelMapOfAnotherSizeIsAnError() throws {
        let root = try TemporaryFolder().url
        try writeSegmentationPairs(root: root, split: nil, count: 1, width: 8, height: 6)
        try coordinateLabels(width: 6, height: 6).write(toFile: root.path + "/annotations/s0.png")
        let error = #expect(throws: InputError.self) { try SegmentationDataset(root: root.path).load(at: 0) }
        #expect(error?.description.contains("is 6x6 but its image") == true)
    }

    /// Checks that every pixel of `sample` shows the source pixel its geometry says, with that pixel's label.
    func expectAligned(_ sample: SegmentationSample, scaled: Bool) {
        let g = sample.geometry
        #expect(sample.image.width == g.cropWidth && sample.labels.width == g.cropWidth)
        #expect(sample.image.height == g.cropHeight && sample.labels.height == g.cropHeight)
        for y in 0..<g.cropHeight {
            for x in 0..<g.cropWidth {
                let sourceX = Int(sample.image[x: x, y: y, channel: 0])
                let sourceY = Int(sample.image[x: x, y: y, channel: 1])
                #expect(
                    sample.labels[x: x, y: y, channel: 0] == coordinateLabel(x: sourceX, y: sourceY),
                    "pixel (\(x), \(y)) shows (\(sourceX), \(sourceY))")
                if !scaled {
                    #expect(sourceX == g.cropX + (g.flipped ? g.cropWidth - 1 - x : x) && sourceY == g.cropY + y)
                }
            }
        }
    }

    @Test func cropAndFlipKeepImageAndLabelsAligned() throws {
        let image = try coordinateImage(width: 40, height: 30)
        let labels = try coordinateLabels(width: 40, height: 30)
        let augment = SegmentationAugmentation(
            longSide: 40, shortSide: 30, ratioRange: 1...1, cropWidth: 24, cropHeight: 16)
        var flips = 0
        var offsets = Set<Int>()
        for seed in 0..<40 {
            var rng = RandomGenerator(seed: UInt64(seed))
            let sample = try augment.apply(image: image, labels: labels, using: &rng)
            #expect(sample.geometry.resizedWidth == 40 && sample.geometry.cropWidth == 24)
            expectAligned(sample, scaled: false)
            flips += sample.geometry.flipped ? 1 : 0
            offsets.insert(sample.geometry.cropX * 100 + sample.geometry.cropY)
        }
        #expect(flips > 5 && flips < 35)
        #expect(offsets.count > 20)
    }

    @Test func randomScaleKeepsImageAndLabelsAlignedWithNearestResampling() throws {
        let image = try coordinateImage(width: 40, height: 30)
        let labels = try coordinateLabels(width: 40, height: 30)
        let augment = SegmentationAugmentation(
            longSide: 40, shortSide: 30, ratioRange: 0.5...2, cropWidth: 32, cropHeight: 32, filter: .nearest)
        var sizes = Set<Int>()
        for seed in 0..<30 {
            var rng = RandomGenerator(seed: UInt64(seed))
            let sample = try augment.apply(image: image, labels: labels, using: &rng)
            let g = sample.geometry
            #expect(abs(Double(g.resizedWidth) / Double(g.resizedHeight) - 4.0 / 3) < 0.1)
            #expect(g.resizedWidth >= 20 && g.resizedWidth <= 80)
            #expect(g.cropWidth == min(32, g.resizedWidth) && g.cropHeight == min(32, g.resizedHeight))
            expectAligned(sample, scaled: true)
            sizes.insert(g.resizedWidth)
        }
        #expect(sizes.count > 10)
    }

    @Test func catMaxRatioPrefersCropsWithSeveralClasses() throws {
        // Columns 0..<48 are class 1, 48..<64 class 2: only crops starting at x 37...43 pass 0.75.
        var pixels = [UInt8]()
        for _ in 0..<16 {
            for x in 0..<64 { pixels.append(x < 48 ? 1 : 2) }
        }
        let labels = try Image(width: 64, height: 16, channels: 1, pixels: pixels)
        let image = try Image(width: 64, height: 16, channels: 3)
        func passing(_ ratio: Double) throws -> Int {
            let augment = SegmentationAugmentation(
                longSide: 64, shortSide: 16, ratioRange: 1...1, cropWidth: 16, cropHeight: 16, catMaxRatio: ratio,
                flipProbability: 0)
            var count = 0
            for seed in 0..<300 {
                var rng = RandomGenerator(seed: UInt64(seed))
                let x = try augment.apply(image: image, labels: labels, using: &rng).geometry.cropX
                if (37...43).contains(x) { count += 1 }
            }
            return count
        }
        let balanced = try passing(0.75)
        let plain = try passing(1)
        #expect(plain < 90, "about 7/49 of random crops pass, got \(plain)/300")
        #expect(balanced > 200, "up to 11 draws should pass about 80%, got \(balanced)/300")
    }

    @Test func batchesPadLabelsWithIgnoreAndStayAligned() throws {
        let root = try TemporaryFolder().url
        try writeSegmentationPairs(root: root, split: "training", count: 5, width: 40, height: 30)
        let dataset = try SegmentationDataset(root: root.path, split: "training")
        let augment = SegmentationAugmentation(
            longSide: 40, shortSide: 30, ratioRange: 1...1, cropWidth: 48, cropHeight: 16)
        let loader = SegmentationBatchLoader(
            dataset: dataset, options: LoaderOptions(batchSize: 2, seed: 1, normalization: unitNormalization),
            transform: augment)
        #expect(loader.batchesPerEpoch == 2)
        let batches = loader.segmentationBatches(epoch: 0, skip: 0)
        var seen = 0
        while let batch = try batches.next() {
            #expect(batch.images.shape == [2, 3, 16, 48] && batch.width == 48 && batch.height == 16)
            #expect(batch.labels.count == 2 * 16 * 48)
            #expect(batch.int32Labels == batch.labels.map { Int32($0) })
            let values = batch.images.scalars
            for (slot, item) in batch.items.enumerated() {
                #expect(item.geometry.cropWidth == 40 && item.geometry.cropHeight == 16)
                for y in 0..<16 {
                    for x in 0..<48 {
                        let label = batch.labels[(slot * 16 + y) * 48 + x]
                        let red = values[((slot * 3) * 16 + y) * 48 + x]
                        let green = values[((slot * 3 + 1) * 16 + y) * 48 + x]
                        if x >= 40 {
                            #expect(label == 255 && red == 0 && green == 0, "padding at (\(x), \(y))")
                        } else {
                            #expect(label == coordinateLabel(x: byte(red), y: byte(green)))
                        }
                    }
                }
            }
            seen += 1
        }
        #expect(seen == 2)
    }

    @Test func evaluationResizesTheWholeImageAndPadsToTheDivisor() throws {
        let root = try TemporaryFolder().url
        try writeSegmentationPairs(root: root, split: nil, count: 3, width: 40, height: 30)
        let dataset = try SegmentationDataset(root: root.path)
        let loader = SegmentationBatchLoader(
            dataset: dataset, options: .evaluation(batchSize: 2, workers: 0, normalization: unitNormalization),
            transform: SegmentationResize(longSide: 80, shortSide: 60))
        #expect(loader.batchesPerEpoch == 2)
        let batches = loader.segmentationBatches(epoch: 0, skip: 0)
        let first = try #require(try batches.next())
        #expect(first.items.map(\.stem) == ["s0", "s1"])
        #expect(first.images.shape == [2, 3, 64, 96])
        let g = first.items[0].geometry
        #expect(g.resizedWidth == 80 && g.resizedHeight == 60 && g.cropWidth == 80 && g.cropX == 0 && !g.flipped)
        #expect(first.labels[59 * 96 + 79] == coordinateLabel(x: 39, y: 29))
        #expect(first.labels[60 * 96 + 79] == 255 && first.labels[59 * 96 + 80] == 255)
        let last = try #require(try batches.next())
        #expect(last.items.map(\.stem) == ["s2"])
        #expect(try batches.next() == nil)
    }
}
