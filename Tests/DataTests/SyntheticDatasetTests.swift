import Foundation
import MixmaeData
import MixmaeSupport
import TestSupport
import Testing

/// A small dataset: 40 images of 48 px, 6 classes, 10 for validation.
func smallOptions(seed: UInt64 = 3, classes: Int = 6, ignoreBorders: Bool = false) -> SyntheticDatasetOptions {
    var options = SyntheticDatasetOptions()
    options.imageCount = 40
    options.imageSize = 48
    options.classCount = classes
    options.seed = seed
    options.validationFraction = 0.25
    options.ignoreBorders = ignoreBorders
    return options
}

/// Generates `options` into a fresh folder.
func generate(_ options: SyntheticDatasetOptions, workers: Int = 2) throws -> SyntheticDatasetLayout {
    let root = try TemporaryFolder().url
    try SyntheticDatasetGenerator(options: options, workers: workers).generate(into: root.path)
    return SyntheticDatasetLayout(root: root.path)
}

/// Per image index (from its file stem), the label map of the segmentation split.
func labelMaps(_ layout: SyntheticDatasetLayout, _ split: SyntheticDatasetLayout.Split) throws -> [Int: Image] {
    let dataset = try SegmentationDataset(root: layout.segmentationRoot, split: layout.segmentationSplit(split))
    var maps = [Int: Image]()
    for (index, pair) in dataset.pairs.enumerated() { maps[Int(pair.stem)!] = try dataset.loadLabels(at: index) }
    return maps
}

@Suite struct SyntheticDatasetTests {
    @Test func sameOptionsGiveTheSameBytesWhateverTheThreads() throws {
        let first = try generate(smallOptions(), workers: 1)
        let second = try generate(smallOptions(), workers: 2)
        let a = try fileContents(under: URL(fileURLWithPath: first.root))
        let b = try fileContents(under: URL(fileURLWithPath: second.root))
        #expect(a.count == 40 * 4 + 4)  // 3 image copies + 1 label map each; 2 JSON, README, synth.json
        #expect(a.keys.sorted() == b.keys.sorted())
        for (path, bytes) in a { #expect(b[path] == bytes, "\(path) differs between runs") }

        let other = try generate(smallOptions(seed: 4))
        let c = try fileContents(under: URL(fileURLWithPath: other.root))
        let differing = a.keys.filter { $0.hasSuffix(".png") && a[$0] != c[$0] }
        #expect(differing.count > 150, "another seed should change the images")
    }

    @Test func classificationSplitHasEveryClassWithItsCount() throws {
        let options = smallOptions()
        let layout = try generate(options)
        for (split, range) in [(SyntheticDatasetLayout.Split.train, 0..<30), (.validation, 30..<40)] {
            let folder = try ImageFolder(root: layout.classificationRoot(split))
            #expect(folder.classes == options.classNames.sorted())
            for (label, name) in folder.classes.enumerated() {
                let classIndex = options.classNames.firstIndex(of: name)!
                let expected = range.filter { $0 % options.classCount == classIndex }.count
                #expect(folder.samples.filter { $0.label == label }.count == expected, "\(split) \(name)")
            }
        }
    }

    @Test func cocoBoxesLieInTheImagesAndMatchTheLabelMaps() throws {
        let options = smallOptions()
        let layout = try generate(options)
        for split in SyntheticDatasetLayout.Split.allCases {
            let instances = try COCOInstances(contentsOfFile: layout.detectionAnnotations(split))
            #expect(instances.categories.map(\.id) == Array(1...6))
            #expect(instances.categories.map(\.name) == options.classNames)
            #expect(instances.images.count == (split == .train ? 30 : 10))
            let maps = try labelMaps(layout, split)
            for record in instances.images {
                #expect(record.width == 48 && record.height == 48)
                let labels = try #require(maps[record.id - 1], "label map of image \(record.id)")
                let annotations = instances.annotations.filter { $0.imageID == record.id }
                for annotation in annotations {
                    let box = annotation.box
                    #expect(box.x >= 0 && box.y >= 0 && box.x + box.width <= 48 && box.y + box.height <= 48)
                    #expect(annotation.area > 0 && annotation.area <= box.area)
                    guard !annotation.isCrowd else { continue }
                    // Tight: every edge row and column of the box holds a pixel of its class.
                    let value = UInt8(annotation.categoryID)
                    let (x0, y0) = (Int(box.x), Int(box.y))
                    let (x1, y1) = (x0 + Int(box.width) - 1, y0 + Int(box.height) - 1)
                    #expect((y0...y1).contains { labels[x: x0, y: $0, channel: 0] == value })
                    #expect((y0...y1).contains { labels[x: x1, y: $0, channel: 0] == value })
                    #expect((x0...x1).contains { labels[x: $0, y: y0, channel: 0] == value })
                    #expect((x0...x1).contains { labels[x: $0, y: y1, channel: 0] == value })
                }
                for category in 1...6 {
                    let own = annotations.filter { $0.categoryID == category && !$0.isCrowd }
                    var pixels = 0
                    for y in 0..<48 {
                        for x in 0..<48 where labels[x: x, y: y, channel: 0] == UInt8(category) {
                            pixels += 1
                            let inside = own.contains {
                                Double(x) >= $0.box.x && Double(x) < $0.box.x + $0.box.width && Double(y) >= $0.box.y
                                    && Double(y) < $0.box.y + $0.box.height
                            }
                            #expect(inside, "pixel (\(x), \(y)) of class \(category) is in no box of its class")
                        }
                    }
                    #expect(Double(pixels) == own.map(\.area).reduce(0, +), "image \(record.id) class \(category)")
                }
                let crowd = annotations.filter(\.isCrowd)
                let ignored = labels.pixels.filter { $0 == 255 }.count
                #expect(Double(ignored) == crowd.map(\.area).reduce(0, +))
                #expect(crowd.allSatisfy { $0.area < Double(SyntheticSample.crowdArea) })
            }
            let dataset = try DetectionDataset(
                annotationFile: layout.detectionAnnotations(split), imageDirectory: layout.detectionImages(split))
            #expect(dataset.classNames == options.classNames)
            #expect(dataset.skippedAnnotations == 0)
            for item in dataset.items {
                #expect(FileManager.default.fileExists(atPath: item.path))
                #expect(item.labels.allSatisfy { (0..<6).contains($0) })
            }
        }
    }

    @Test func labelMapsHoldOnlyClassesAndIgnoreAndBordersChangeOnlyLabels() throws {
        let plain = try generate(smallOptions())
        let bordered = try generate(smallOptions(ignoreBorders: true))
        let plainMaps = try labelMaps(plain, .train).merging(try labelMaps(plain, .validation)) { a, _ in a }
        let borderedMaps = try labelMaps(bordered, .train).merging(try labelMaps(bordered, .validation)) { a, _ in a }
        #expect(plainMaps.count == 40 && borderedMaps.count == 40)
        var borderPixels = 0
        for (index, map) in borderedMaps {
            #expect(map.channels == 1)
            #expect(map.pixels.allSatisfy { $0 <= 6 || $0 == 255 }, "image \(index)")
            let other = plainMaps[index]!
            #expect(other.pixels.allSatisfy { $0 <= 6 || $0 == 255 })
            for (a, b) in zip(map.pixels, other.pixels) {
                if a == 255 { borderPixels += b == 255 ? 0 : 1 } else { #expect(a == b) }
            }
        }
        #expect(borderPixels > 40 * 30, "borders should be marked 255 with ignoreBorders")
        let a = try fileContents(under: URL(fileURLWithPath: plain.root)).filter { $0.key.hasPrefix("classification") }
        let b = try fileContents(under: URL(fileURLWithPath: bordered.root)).filter {
            $0.key.hasPrefix("classification")
        }
        #expect(a == b, "the images must not depend on ignoreBorders")
    }

    @Test(arguments: [false, true])
    func dominantShapeIsTheLabelMapsMostFrequentClass(ignoreBorders: Bool) throws {
        let options = smallOptions(seed: 11, classes: 10, ignoreBorders: ignoreBorders)
        let layout = try generate(options)
        for split in SyntheticDatasetLayout.Split.allCases {
            let folder = try ImageFolder(root: layout.classificationRoot(split))
            let maps = try labelMaps(layout, split)
            for sample in folder.samples {
                let stem = ((sample.path as NSString).lastPathComponent as NSString).deletingPathExtension
                let labels = try #require(maps[Int(stem)!])
                var counts = [Int](repeating: 0, count: 11)
                for value in labels.pixels where (1...10).contains(value) { counts[Int(value)] += 1 }
                let mostFrequent = counts.indices.dropFirst().max { counts[$0] < counts[$1] }!
                #expect(options.classNames[mostFrequent - 1] == folder.classes[sample.label], "image \(stem)")
                let sorted = counts.dropFirst().sorted(by: >)
                #expect(sorted[0] >= 2 * sorted[1], "image \(stem): the dominant class should be clearly dominant")
            }
        }
    }

    @Test func everyShapeKindIsDistinctAndInsideItsBoundingRadius() {
        var masks = [[Bool]]()
        for kind in ShapeKind.allCases {
            var mask = [Bool]()
            var inside = 0
            let steps = 60
            for j in 0..<steps {
                for i in 0..<steps {
                    let u = -1.3 + 2.6 * (Double(i) + 0.5) / Double(steps)
                    let v = -1.3 + 2.6 * (Double(j) + 0.5) / Double(steps)
                    let hit = kind.contains(u, v, aspect: 0.6)
                    mask.append(hit)
                    if hit { inside += 1 }
                    if (u * u + v * v).squareRoot() > ShapeKind.boundingRadius {
                        #expect(!hit, "\(kind) at \(u), \(v)")
                    }
                }
            }
            let discShare = Double(inside) / (Double.pi * 1.0 / (2.6 * 2.6) * Double(steps * steps))
            #expect(discShare > 0.3 && discShare < 1.1, "\(kind) covers \(discShare) of the unit disc")
            masks.append(mask)
        }
        // The closest pair, circle and hexagon, differ on about 170 of these cells (11% of the disc).
        for a in masks.indices {
            for b in masks.indices where a < b {
                let difference = zip(masks[a], masks[b]).filter { $0 != $1 }.count
                #expect(difference > 100, "\(ShapeKind.allCases[a]) and \(ShapeKind.allCases[b]) look alike")
            }
        }
    }

    /// By default a classification image holds one shape, of its class, on a textured
    /// background (a scene of its own, larger and nearer the centre); detection and
    /// segmentation keep the cluttered scenes. `cluttered` brings back generator version 2's
    /// classification images (the detection scenes), and the manifest records which.
    @Test(arguments: [ClassificationScenes.single, .cluttered])
    func classificationImagesAreSingleShapesByDefaultAndClutteredOnRequest(scenes: ClassificationScenes) throws {
        var options = smallOptions()
        if scenes == .cluttered { options.classificationScenes = .cluttered }
        #expect(SyntheticDatasetOptions().classificationScenes == .single)
        #expect(SyntheticDatasetGenerator.version == 3)
        let layout = try generate(options)
        for index in [0, 7, 31] {
            let sample = SyntheticSample(index: index, options: options)
            let split: SyntheticDatasetLayout.Split = index < options.trainCount ? .train : .validation
            let name = SyntheticDatasetGenerator.stem(index) + ".png"
            let classFolder = URL(fileURLWithPath: layout.classificationRoot(split))
                .appendingPathComponent(options.classNames[index % options.classCount])
            let classification = try Image(contentsOfFile: classFolder.appendingPathComponent(name).path)
            let detection = try Image(
                contentsOfFile: URL(fileURLWithPath: layout.detectionImages(split)).appendingPathComponent(name).path)
            #expect(classification == sample.classificationImage)
            #expect(detection == sample.denseImage)
            let objects = sample.classificationScene.objects
            #expect(objects[sample.classificationScene.dominantIndex].classIndex == index % options.classCount)
            switch scenes {
            case .single:
                #expect(objects.count == 1, "image \(index)")
                #expect(classification != detection)
                let shape = objects[0]
                #expect(SceneLayout.single.dominantRadius.contains(shape.radius / 48))
                #expect(SceneLayout.single.dominantCenter.contains(shape.centerX / 48))
            case .cluttered:
                #expect(sample.classificationScene == sample.scene)
                #expect(classification == detection)
            }
        }
        let manifest = try String(contentsOfFile: layout.manifest, encoding: .utf8)
        #expect(manifest.contains("\"classification_scenes\" : \"\(scenes.rawValue)\""), "\(manifest)")
        let readme = try String(contentsOfFile: layout.readme, encoding: .utf8)
        #expect(readme.contains("--classification-scenes \(scenes.rawValue)"))
    }

    @Test func theCommandTakesTheClassificationScenesAndRefusesOtherWords() throws {
        let root = try TemporaryFolder().url.appendingPathComponent("synth")
        let arguments = [
            "data", "synth", "--out", root.path, "--images", "12", "--size", "32", "--val-fraction", "0.5",
        ]
        let cluttered = try runMixmae(arguments + ["--classification-scenes", "cluttered"])
        #expect(cluttered.status == 0, "\(cluttered.stderr)")
        let layout = SyntheticDatasetLayout(root: root.path)
        let classification = try Data(
            contentsOf: URL(fileURLWithPath: layout.classificationRoot(.train)).appendingPathComponent(
                "circle/000000.png"))
        let detection = try Data(
            contentsOf: URL(fileURLWithPath: layout.detectionImages(.train)).appendingPathComponent("000000.png"))
        #expect(classification == detection)
        let bad = try runMixmae(arguments + ["--classification-scenes", "busy", "--overwrite"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--classification-scenes must be single or cluttered, got 'busy'"), "\(bad.stderr)")
    }

    @Test func aFinishedFolderIsReusedAndOtherwiseProtected() throws {
        let layout = try generate(smallOptions())
        let again = try SyntheticDatasetGenerator(options: smallOptions()).generate(into: layout.root)
        #expect(again.upToDate)
        #expect(again.trainCount == 30 && again.validationCount == 10)

        var changed = smallOptions()
        changed.imageCount = 48
        #expect(throws: InputError.self) {
            try SyntheticDatasetGenerator(options: changed).generate(into: layout.root)
        }
        let keep = URL(fileURLWithPath: layout.root).appendingPathComponent("notes.txt")
        try Data("mine".utf8).write(to: keep)
        let summary = try SyntheticDatasetGenerator(options: changed).generate(into: layout.root, overwrite: true)
        #expect(!summary.upToDate && summary.trainCount == 36 && summary.validationCount == 12)
        #expect(try ImageFolder(root: layout.classificationRoot(.train)).samples.count == 36)
        #expect(try String(contentsOf: keep, encoding: .utf8) == "mine")
    }

    @Test func aDatasetOfAnOlderGeneratorIsNamedAsSuchAndReplacedWithOverwrite() throws {
        let layout = try generate(smallOptions())
        // As if written by generator version 1 (RLE masks instead of polygons).
        let manifest = try String(contentsOfFile: layout.manifest, encoding: .utf8)
        let older = manifest.replacingOccurrences(
            of: "\"version\" : \(SyntheticDatasetGenerator.version)", with: "\"version\" : 1")
        #expect(older != manifest)
        try older.write(toFile: layout.manifest, atomically: true, encoding: .utf8)
        let error = #expect(throws: InputError.self) {
            try SyntheticDatasetGenerator(options: smallOptions()).generate(into: layout.root)
        }
        #expect(
            "\(error.map { "\($0)" } ?? "")".contains(
                "generator version 1 (this mixmae writes version \(SyntheticDatasetGenerator.version))"))
        let again = try SyntheticDatasetGenerator(options: smallOptions()).generate(into: layout.root, overwrite: true)
        #expect(!again.upToDate)
    }

    @Test func optionsOutOfRangeAreRejectedWithTheOptionNamed() {
        var options = smallOptions()
        options.classCount = 11
        let classError = #expect(throws: InputError.self) { try options.validate() }
        #expect(classError?.keyPath == "--classes")
        options = smallOptions()
        options.imageCount = 12
        let error = #expect(throws: InputError.self) { try options.validate() }
        #expect(error?.keyPath == "--images")
        #expect(error?.what.contains("at least one image per class") == true)
    }

    @Test func commandWritesTheDatasetAndExplainsBadArguments() throws {
        let root = try TemporaryFolder().url.appendingPathComponent("synth")
        let result = try runMixmae([
            "data", "synth", "--out", root.path, "--images", "24", "--size", "32", "--val-fraction", "0.25",
            "--format", "jpeg",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("synth 24/24"))
        let manifest =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: root.appendingPathComponent("synth.json"))) as! [String: Any]
        #expect((manifest["classes"] as? [String]) == SyntheticDatasetOptions().classNames)
        let train = try ImageFolder(root: SyntheticDatasetLayout(root: root.path).classificationRoot(.train))
        #expect(train.samples.count == 18 && train.samples.allSatisfy { $0.path.hasSuffix(".jpg") })

        let again = try runMixmae(["data", "synth", "--out", root.path, "--images", "24", "--size", "32"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("--overwrite"))
        let bad = try runMixmae(["data", "synth", "--out", root.path, "--classes", "11"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--classes") && bad.stderr.contains("1...10"))
    }
}

@Suite struct ClassificationLoaderTests {
    @Test func theClassificationSplitFeedsTheImageBatchLoader() throws {
        let layout = try generate(smallOptions())
        let folder = try ImageFolder(root: layout.classificationRoot(.train))
        func epoch(workers: Int) throws -> [Batch] {
            let loader = ImageBatchLoader(
                samples: folder.samples,
                options: LoaderOptions(batchSize: 8, seed: 4, workers: workers, normalization: unitNormalization),
                imageSize: 48
            ) { image, _ in image }
            #expect(loader.batchesPerEpoch == 3)
            let order = loader.order(epoch: 1)
            #expect(order.sorted() == Array(0..<30) && order != Array(0..<30))
            let iterator = loader.batches(epoch: 1, skip: 1)
            var batches = [Batch]()
            while let batch = try iterator.next() { batches.append(batch) }
            #expect(batches.count == 2)
            for (k, batch) in batches.enumerated() {
                let positions = (k + 1) * 8..<(k + 2) * 8
                #expect(batch.labels == positions.map { folder.samples[order[$0]].label })
                let image = try Image(contentsOfFile: folder.samples[order[positions.lowerBound]].path)
                let values = batch.images.scalars
                #expect((0..<48 * 48).allSatisfy { byte(values[$0]) == Int(image.pixels[$0 * 3]) })
            }
            return batches
        }
        let serial = try epoch(workers: 0)
        let threaded = try epoch(workers: 2)
        #expect(serial.map(\.images.scalars) == threaded.map(\.images.scalars))
    }
}
