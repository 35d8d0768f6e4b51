import Foundation
import MixKit
import MixmaeData
import MixmaeSupport
import TestSupport
import Testing

/// Writes `json` as `name` in `directory`.
func writeJSON(_ json: Any, named name: String, in directory: URL) throws -> String {
    let url = directory.appendingPathComponent(name)
    try JSONSerialization.data(withJSONObject: json).write(to: url)
    return url.path
}

func annotation(_ id: Int, image: Int, category: Int, _ bbox: [Double], crowd: Int = 0) -> [String: Any] {
    ["id": id, "image_id": image, "category_id": category, "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": crowd]
}

/// Three images: 100x50 with two boxes and a crowd region, 60x80 with none, 40x40 with one
/// good box, one too thin and one outside. Categories 42, 3 and 7, listed out of order.
func writeSmallCOCO(in directory: URL) throws -> (json: String, images: String) {
    let images = directory.appendingPathComponent("images")
    try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
    for (name, width, height) in [("a.png", 100, 50), ("b.png", 60, 80), ("c.png", 40, 40)] {
        try Image(width: width, height: height, channels: 3, filledWith: 200).write(
            toFile: images.appendingPathComponent(name).path)
    }
    let json: [String: Any] = [
        "images": [
            ["id": 10, "file_name": "a.png", "width": 100, "height": 50],
            ["id": 11, "file_name": "b.png", "width": 60, "height": 80],
            ["id": 12, "file_name": "c.png", "width": 40, "height": 40],
        ],
        "categories": [["id": 42, "name": "kite"], ["id": 3, "name": "car"], ["id": 7, "name": "dog"]],
        "annotations": [
            annotation(1, image: 10, category: 7, [10, 5, 20, 20]),
            annotation(2, image: 10, category: 42, [50, 10, 30, 30]),
            annotation(3, image: 10, category: 3, [0, 0, 40, 40], crowd: 1),
            annotation(4, image: 12, category: 3, [5, 5, 10, 10]),
            annotation(5, image: 12, category: 3, [5, 5, 0.5, 10]),
            annotation(6, image: 12, category: 7, [45, 0, 10, 10]),
        ],
    ]
    return (try writeJSON(json, named: "instances.json", in: directory), images.path)
}

@Suite struct DetectionDataTests {
    @Test func readsCOCOWithAnyCategoryIdsCrowdsAndEmptyImages() throws {
        let (json, images) = try writeSmallCOCO(in: try TemporaryFolder().url)
        let dataset = try DetectionDataset(annotationFile: json, imageDirectory: images)
        #expect(dataset.classNames == ["car", "dog", "kite"])
        #expect(dataset.classIndex(forCategoryID: 3) == 0)
        #expect(dataset.classIndex(forCategoryID: 42) == 2)
        #expect(dataset.classIndex(forCategoryID: 5) == nil)
        #expect((0..<3).map(dataset.categoryID(forClass:)) == [3, 7, 42])
        #expect(dataset.items.map(\.imageID) == [10, 11, 12])
        let a = dataset.items[0]
        #expect(a.path == images + "/a.png")
        #expect(a.boxes == [DetectionBox(x1: 10, y1: 5, x2: 30, y2: 25), DetectionBox(x1: 50, y1: 10, x2: 80, y2: 40)])
        #expect(a.labels == [1, 2])
        #expect(a.crowdBoxes == [DetectionBox(x1: 0, y1: 0, x2: 40, y2: 40)])
        #expect(dataset.items[1].boxes.isEmpty && dataset.items[1].crowdBoxes.isEmpty)
        #expect(dataset.items[2].boxes == [DetectionBox(x1: 5, y1: 5, x2: 15, y2: 15)])
        #expect(dataset.skippedAnnotations == 2)
    }

    @Test func readsTheEvaluationFixturesGroundTruth() throws {
        // Image ids 7, 14, ..., 210; category ids 1, 2, 5; crowd boxes; images without boxes.
        let path = TestPaths.shared.appendingPathComponent("fixtures/eval/coco/gt.json").path
        let instances = try COCOInstances(contentsOfFile: path)
        let dataset = try DetectionDataset(annotationFile: path, imageDirectory: "images")
        #expect(dataset.classNames == ["circle", "square", "triangle"])
        #expect(dataset.classIndex(forCategoryID: 5) == 2 && dataset.categoryID(forClass: 2) == 5)
        #expect(dataset.items.map(\.imageID) == instances.images.map(\.id))
        #expect(dataset.items.contains { $0.boxes.isEmpty })
        let crowd = instances.annotations.filter(\.isCrowd)
        #expect(!crowd.isEmpty)
        #expect(dataset.items.map(\.crowdBoxes.count).reduce(0, +) == crowd.count)
        #expect(
            dataset.items.map(\.boxes.count).reduce(0, +) + crowd.count + dataset.skippedAnnotations
                == instances.annotations.count)
        for annotation in instances.annotations where !annotation.isCrowd {
            let item = try #require(dataset.items.first { $0.imageID == annotation.imageID })
            let position = try #require(item.boxes.firstIndex(of: DetectionBox(coco: annotation.box)))
            #expect(dataset.categoryID(forClass: item.labels[position]) == annotation.categoryID)
        }
    }

    @Test func badAnnotationsAreErrorsThatSayWhere() throws {
        let directory = try TemporaryFolder().url
        let unknownCategory: [String: Any] = [
            "images": [["id": 1, "file_name": "a.png"]], "categories": [["id": 1, "name": "a"]],
            "annotations": [annotation(1, image: 1, category: 9, [0, 0, 5, 5])],
        ]
        let path = try writeJSON(unknownCategory, named: "bad.json", in: directory)
        let error = #expect(throws: InputError.self) {
            try DetectionDataset(annotationFile: path, imageDirectory: directory.path)
        }
        #expect(error?.description.contains("annotations[0]: category_id 9 is not in categories") == true)

        let noName: [String: Any] = ["images": [["id": 1]], "categories": [["id": 1, "name": "a"]]]
        let other = try writeJSON(noName, named: "noname.json", in: directory)
        let nameError = #expect(throws: InputError.self) {
            try DetectionDataset(annotationFile: other, imageDirectory: directory.path)
        }
        #expect(nameError?.description.contains("images[0] (id 1) has no file_name") == true)
    }

    @Test func resizeScalesBoxesByTheNewSize() {
        let transform = DetectionTransform(shortSides: [80], maxSize: 1333)
        let geometry = transform.geometry(width: 100, height: 50, shortSide: 80, flipped: false)
        #expect(geometry.validWidth == 160 && geometry.validHeight == 80)
        #expect(geometry.paddedWidth == 160 && geometry.paddedHeight == 96)
        #expect(geometry.scaleX == 1.6 && geometry.scaleY == 1.6)
        let box = DetectionBox(x1: 10, y1: 5, x2: 30, y2: 25)
        #expect(geometry.fromOriginal(box) == DetectionBox(x1: 16, y1: 8, x2: 48, y2: 40))
        #expect(geometry.toOriginal(DetectionBox(x1: 16, y1: 8, x2: 48, y2: 40)) == box)

        // The longer side is capped: min(100 / 50, 300 / 200) = 1.5.
        let capped = DetectionTransform(shortSides: [100], maxSize: 300)
            .geometry(width: 200, height: 50, shortSide: 100, flipped: false)
        #expect(capped.validWidth == 300 && capped.validHeight == 75)
        #expect(capped.paddedWidth == 320 && capped.paddedHeight == 96)
        #expect(
            capped.fromOriginal(DetectionBox(x1: 20, y1: 10, x2: 60, y2: 30))
                == DetectionBox(x1: 30, y1: 15, x2: 90, y2: 45))

        // 30x20 to a short side of 25: scale 1.25, width Int(37.5 + 0.5) = 38, so x scales by 38/30.
        let uneven = DetectionTransform(shortSides: [25], maxSize: 1000)
            .geometry(width: 30, height: 20, shortSide: 25, flipped: false)
        #expect(uneven.validWidth == 38 && uneven.validHeight == 25)
        #expect(uneven.paddedWidth == 64 && uneven.paddedHeight == 32)
        let moved = uneven.fromOriginal(DetectionBox(x1: 3, y1: 4, x2: 9, y2: 8))
        #expect(abs(moved.x1 - 3.8) < 1e-12 && abs(moved.x2 - 11.4) < 1e-12 && moved.y1 == 5 && moved.y2 == 10)
        // Boxes are clipped to the resized image.
        let clipped = uneven.fromOriginal(DetectionBox(x1: -2, y1: 0, x2: 35, y2: 20))
        #expect(clipped == DetectionBox(x1: 0, y1: 0, x2: 38, y2: 25))
    }

    @Test func flipMirrorsBoxesInTheResizedImage() {
        let geometry = DetectionTransform(shortSides: [80], maxSize: 1333)
            .geometry(width: 100, height: 50, shortSide: 80, flipped: true)
        let box = DetectionBox(x1: 10, y1: 5, x2: 30, y2: 25)
        #expect(geometry.fromOriginal(box) == DetectionBox(x1: 112, y1: 8, x2: 144, y2: 40))
        #expect(geometry.toOriginal(DetectionBox(x1: 112, y1: 8, x2: 144, y2: 40)) == box)
    }

    @Test func transformMovesImageAndBoxesTogether() throws {
        // A white 10x10 square at (10, 5) on black; its box must cover the white pixels after the transform.
        var image = try Image(width: 40, height: 20, channels: 3, filledWith: 0)
        for y in 5..<15 {
            for x in 10..<20 {
                for c in 0..<3 { image[x: x, y: y, channel: c] = 255 }
            }
        }
        let item = DetectionDataset.Item(
            imageID: 1, path: "", width: 40, height: 20, boxes: [DetectionBox(x1: 10, y1: 5, x2: 20, y2: 15)],
            labels: [0], crowdBoxes: [DetectionBox(x1: 0, y1: 0, x2: 4, y2: 4)])
        let transform = DetectionTransform(shortSides: [40], maxSize: 1000, flipProbability: 1, filter: .nearest)
        var rng = RandomGenerator(seed: 1)
        let sample = try transform(image, item: item, using: &rng)
        #expect(sample.image.width == 80 && sample.image.height == 40)
        #expect(sample.geometry.flipped)
        #expect(sample.boxes == [DetectionBox(x1: 40, y1: 10, x2: 60, y2: 30)])
        #expect(sample.crowdBoxes == [DetectionBox(x1: 72, y1: 0, x2: 80, y2: 8)])
        for y in 0..<40 {
            for x in 0..<80 {
                let white = sample.image[x: x, y: y, channel: 0] == 255
                #expect(white == ((40..<60).contains(x) && (10..<30).contains(y)), "pixel (\(x), \(y))")
            }
        }
    }

    @Test func batchesArePaddedNormalisedAndDeterministic() throws {
        let (json, images) = try writeSmallCOCO(in: try TemporaryFolder().url)
        let dataset = try DetectionDataset(annotationFile: json, imageDirectory: images)
        let transform = DetectionTransform(shortSides: [40, 48], maxSize: 100, flipProbability: 0.5)
        let loader = DetectionBatchLoader(
            dataset: dataset,
            options: LoaderOptions(
                batchSize: 2, seed: 5, workers: 0, shuffle: false, dropLast: false, normalization: unitNormalization),
            transform: DetectionTransform(shortSides: [40], maxSize: 100))
        #expect(loader.batchesPerEpoch == 2)
        let batches = loader.detectionBatches(epoch: 0, skip: 0)
        let first = try #require(try batches.next())
        // a: 100x50, scale min(40 / 50, 100 / 100) = 0.8 -> 80x40, padded 96x64;
        // b: 60x80, scale min(40 / 60, 100 / 80) -> 40x53, padded 64x64. The batch is 96 wide, 64 high.
        #expect(first.images.shape == [2, 3, 64, 96])
        #expect(first.targets.map(\.imageID) == [10, 11])
        #expect(first.targets[0].geometry.validWidth == 80 && first.targets[0].geometry.validHeight == 40)
        #expect(first.targets[1].geometry.validWidth == 40 && first.targets[1].geometry.validHeight == 53)
        #expect(first.targets[0].boxes[0] == DetectionBox(x1: 8, y1: 4, x2: 24, y2: 20))
        #expect(first.targets[0].labels == [1, 2])
        #expect(first.targets[0].crowdBoxes == [DetectionBox(x1: 0, y1: 0, x2: 32, y2: 32)])
        let values = first.images.scalars
        let plane = 64 * 96
        #expect(byte(values[10 * 96 + 10]) == 200)  // inside image a
        #expect(values[50 * 96 + 10] == 0 && values[10 * 96 + 90] == 0)  // padding below and right of a
        #expect(byte(values[3 * plane + 52 * 96 + 39]) == 200)  // last valid pixel of b
        #expect(values[3 * plane + 53 * 96 + 39] == 0 && values[3 * plane + 10 * 96 + 40] == 0)
        let second = try #require(try batches.next())
        #expect(second.images.shape == [1, 3, 64, 64])
        #expect(try batches.next() == nil)

        func epoch(workers: Int) throws -> [([Float], [DetectionBatch.Target])] {
            let loader = DetectionBatchLoader(
                dataset: dataset, options: LoaderOptions(batchSize: 2, seed: 9, workers: workers), transform: transform)
            let iterator = loader.batches(epoch: 3, skip: 0)
            var out = [([Float], [DetectionBatch.Target])]()
            while let batch = try iterator.next() {
                let detection = try #require(batch.detection)
                out.append((batch.images.scalars, detection.targets))
            }
            return out
        }
        let serial = try epoch(workers: 0)
        let threaded = try epoch(workers: 2)
        #expect(serial.count == 1)
        #expect(serial.map(\.0) == threaded.map(\.0))
        #expect(serial.map(\.1) == threaded.map(\.1))
    }

    @Test func anImageOfTheWrongSizeIsSkippedOrReported() throws {
        let directory = try TemporaryFolder().url
        let (json, images) = try writeSmallCOCO(in: directory)
        try Image(width: 30, height: 30, channels: 3).write(toFile: images + "/b.png")
        let dataset = try DetectionDataset(annotationFile: json, imageDirectory: images)
        let transform = DetectionTransform(shortSides: [32], maxSize: 64)
        let broken = BrokenImageLog(report: { _ in })
        let skipping = DetectionBatchLoader(
            dataset: dataset, options: LoaderOptions(batchSize: 3, seed: 0, workers: 0, shuffle: false, broken: broken),
            transform: transform)
        let batch = try #require(try skipping.detectionBatches(epoch: 0, skip: 0).next())
        #expect(batch.targets.map(\.imageID) == [10, 12, 12])
        #expect(broken.count == 1)

        let strict = DetectionBatchLoader(
            dataset: dataset,
            options: LoaderOptions(batchSize: 3, seed: 0, workers: 0, shuffle: false, skipBroken: false),
            transform: transform)
        let error = #expect(throws: InputError.self) { try strict.detectionBatches(epoch: 0, skip: 0).next() }
        #expect(error?.description.contains("is 30x30 but") == true)
    }
}
