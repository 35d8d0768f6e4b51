import MixmaeData
import MixmaeSupport

/// COCO detection metrics computed exactly as pycocotools'
/// `COCOeval(truth, results, iouType)` with `evaluate()`, `accumulate()` and
/// `summarize()`, for boxes (`bbox`) or masks (`segm`).
///
///     let truth = try COCOInstances(contentsOfFile: "gt.json")
///     let detections = try COCODetection.load(contentsOfFile: "dets.json")
///     let metrics = try COCOBoxEvaluator.evaluate(truth: truth, detections: detections)
///     print(metrics.summary)   // the twelve lines of summarize()
///     metrics.ap               // AP @ IoU 0.50:0.95, all areas, 100 detections
///
/// What pycocotools does, and this too:
/// - images are the truth's (sorted, unique); categories the truth's; detections
///   of other categories are ignored; detections on images absent from the
///   truth are an error (pycocotools' loadRes asserts the same);
/// - per image and category, detections are sorted by score (stable) and cut to
///   100; IoU is intersection over union, or over the detection's area for a
///   crowd region, of boxes or of masks (``RunLengthMask/iou(_:_:crowd:)``); a detection's
///   area is what `loadRes` gives it (``COCODetection/area``);
/// - per IoU threshold 0.50:0.05:0.95, greedy matching in score order, truth
///   boxes sorted so ignored ones (crowd, or `area` outside the range) come last;
///   a detection matched to an ignored box, or unmatched with its area outside
///   the range, is ignored;
/// - precision at 101 recall points from the precision envelope, recall at the
///   last detection, averaged over everything not -1; -1 where nothing applies.
///   pycocotools' quirk is kept too: a detection matched to a truth box whose
///   id is 0 counts as unmatched.
public enum COCOBoxEvaluator {
    /// IoU thresholds, as `np.linspace(.5, .95, 10)` computes them.
    static let iouThresholds: [Double] = linspace(0.5, 0.95, count: 10)
    /// Recall points, as `np.linspace(0, 1, 101)`.
    static let recallThresholds: [Double] = linspace(0, 1, count: 101)
    /// Detections per image considered by the three summaries.
    static let maxDetections = [1, 10, 100]
    /// all, small, medium, large: [lo, hi] on the annotation's `area`, inclusive.
    static let areaRanges: [(lower: Double, upper: Double)] = [
        (0, 1e10), (0, 32 * 32), (32 * 32, 96 * 96), (96 * 96, 1e10),
    ]

    /// Evaluates `detections` against `truth` by boxes or masks; throws if a
    /// detection names an image that is not in the truth, or (masks) if a
    /// segmentation is missing or its image has no size. `source` and
    /// `truthSource` name the two inputs in errors.
    public static func evaluate(
        truth: COCOInstances, detections: [COCODetection], iouType: COCOIoUType = .bbox,
        source: String = "detections", truthSource: String = "ground truth"
    ) throws -> COCOBoxMetrics {
        let imageIDs = Array(Set(truth.images.map(\.id))).sorted()
        let categoryIDs = Array(Set(truth.categories.map(\.id))).sorted()
        let knownImages = Set(imageIDs)
        for (index, detection) in detections.enumerated() where !knownImages.contains(detection.imageID) {
            throw InputError(
                file: source, keyPath: "[\(index)].image_id",
                problem: "image \(detection.imageID) is not in the ground truth "
                    + "(\(imageIDs.count) images); results must use the ground truth's image ids")
        }
        let overlaps: (Cell) throws -> [[Double]]
        switch iouType {
        case .bbox:
            overlaps = { cell in
                cell.detections.map { detection in cell.truth.map { iou(detection.box, $0.box, crowd: $0.isCrowd) } }
            }
        case .segm:
            let masks = COCOMaskOverlaps(
                truth: truth, detections: detections, truthSource: truthSource, detectionSource: source)
            overlaps = masks.ious
        }
        let cells = try Cells(
            truth: truth, detections: detections, imageIDs: imageIDs, categoryIDs: categoryIDs, overlaps: overlaps)
        let accumulated = accumulate(cells)
        return COCOBoxMetrics(accumulated: accumulated, categoryIDs: categoryIDs)
    }

    /// `np.linspace(start, stop, count)`: `start + i * step`, the last value exactly `stop`.
    static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
        let step = (stop - start) / Double(count - 1)
        return (0..<count).map { $0 == count - 1 ? stop : Double($0) * step + start }
    }

    // MARK: Per image and category

    /// Truth boxes and detections of one (image, category) pair, detections
    /// already sorted by score and cut to the largest maxDets.
    struct Cell {
        var truth: [COCOInstances.Annotation] = []
        var detections: [(box: COCOBox, score: Double, id: Int)] = []
        /// The detections' areas, in ``detections`` order.
        var detectionAreas: [Double] = []
        /// ious[d][g], g in truth order.
        var ious: [[Double]] = []
    }

    /// All non-empty cells, indexed by category, then image (both in sorted order).
    struct Cells {
        var byCategory: [[Int: Cell]]
        let imageIDs: [Int]

        /// `overlaps` gives a cell's `ious` (detections sorted and cut).
        init(
            truth: COCOInstances, detections: [COCODetection], imageIDs: [Int], categoryIDs: [Int],
            overlaps: (Cell) throws -> [[Double]]
        ) rethrows {
            self.imageIDs = imageIDs
            let categoryIndex = Dictionary(uniqueKeysWithValues: categoryIDs.enumerated().map { ($1, $0) })
            let imageSet = Set(imageIDs)
            var cells = [[Int: Cell]](repeating: [:], count: categoryIDs.count)
            for annotation in truth.annotations where imageSet.contains(annotation.imageID) {
                guard let k = categoryIndex[annotation.categoryID] else { continue }
                cells[k][annotation.imageID, default: Cell()].truth.append(annotation)
            }
            for (index, detection) in detections.enumerated() {
                guard let k = categoryIndex[detection.categoryID] else { continue }
                cells[k][detection.imageID, default: Cell()].detections.append(
                    (detection.box, detection.score, index + 1))
            }
            let limit = COCOBoxEvaluator.maxDetections.last!
            for k in cells.indices {
                for (image, var cell) in cells[k] {
                    cell.detections = stableSortedByScore(cell.detections)
                    if cell.detections.count > limit { cell.detections.removeLast(cell.detections.count - limit) }
                    cell.detectionAreas = cell.detections.map { detections[$0.id - 1].area }
                    cell.ious = try overlaps(cell)
                    cells[k][image] = cell
                }
            }
            byCategory = cells
        }
    }

    /// Highest score first; ties keep their order (numpy's mergesort on -score).
    static func stableSortedByScore<T>(_ items: [(box: COCOBox, score: Double, id: T)])
        -> [(box: COCOBox, score: Double, id: T)]
    {
        items.enumerated().sorted {
            $0.element.score != $1.element.score
                ? $0.element.score > $1.element.score : $0.offset < $1.offset
        }.map(\.element)
    }

    /// pycocotools' bbIou: intersection over union, or over the detection's
    /// area when the truth box is a crowd region; same operation order.
    static func iou(_ d: COCOBox, _ g: COCOBox, crowd: Bool) -> Double {
        let width = min(d.width + d.x, g.width + g.x) - max(d.x, g.x)
        if width <= 0 { return 0 }
        let height = min(d.height + d.y, g.height + g.y) - max(d.y, g.y)
        if height <= 0 { return 0 }
        let intersection = width * height
        let detectionArea = d.width * d.height
        let union = crowd ? detectionArea : detectionArea + g.width * g.height - intersection
        return intersection / union
    }

    /// pycocotools' evaluateImg for one cell and area range.
    struct ImageResult {
        var scores: [Double]
        /// matchedTruthID[t][d]: id of the matched truth box, 0 if none.
        var matchedTruthID: [[Int]]
        var ignored: [[Bool]]
        var countedTruth: Int
    }

    static func evaluate(_ cell: Cell, area range: (lower: Double, upper: Double)) -> ImageResult {
        let truthIgnored = cell.truth.map { $0.isCrowd || $0.area < range.lower || $0.area > range.upper }
        // Stable: kept truth boxes first, ignored ones after, each in file order.
        let order = cell.truth.indices.sorted {
            truthIgnored[$0] != truthIgnored[$1] ? !truthIgnored[$0] : $0 < $1
        }
        let truth = order.map { cell.truth[$0] }
        let ignoredTruth = order.map { truthIgnored[$0] }
        let detections = cell.detections
        let thresholds = iouThresholds.count
        var matched = [[Int]](repeating: [Int](repeating: 0, count: detections.count), count: thresholds)
        var ignored = [[Bool]](repeating: [Bool](repeating: false, count: detections.count), count: thresholds)
        if !truth.isEmpty && !detections.isEmpty {
            for (t, threshold) in iouThresholds.enumerated() {
                var truthTaken = [Bool](repeating: false, count: truth.count)
                for d in detections.indices {
                    var best = min(threshold, 1 - 1e-10)
                    var match = -1
                    for g in truth.indices {
                        if truthTaken[g] && !truth[g].isCrowd { continue }
                        if match > -1 && !ignoredTruth[match] && ignoredTruth[g] { break }
                        let overlap = cell.ious[d][order[g]]
                        if overlap < best { continue }
                        best = overlap
                        match = g
                    }
                    guard match > -1 else { continue }
                    ignored[t][d] = ignoredTruth[match]
                    matched[t][d] = truth[match].id
                    truthTaken[match] = true
                }
            }
        }
        for d in detections.indices {
            let area = cell.detectionAreas[d]
            guard area < range.lower || area > range.upper else { continue }
            for t in 0..<thresholds where matched[t][d] == 0 { ignored[t][d] = true }
        }
        return ImageResult(
            scores: detections.map(\.score), matchedTruthID: matched, ignored: ignored,
            countedTruth: ignoredTruth.filter { !$0 }.count)
    }

    // MARK: Accumulation

    /// pycocotools' `eval["precision"]` [threshold, recall point, category, area,
    /// maxDets] and `eval["recall"]` [threshold, category, area, maxDets], stored
    /// flat in that (row-major) order; -1 where nothing applies.
    struct Accumulated {
        static let thresholds = iouThresholds.count
        static let recallPoints = recallThresholds.count
        static let areas = areaRanges.count
        static let limits = maxDetections.count
        let categories: Int
        var precision: [Double]
        var recall: [Double]

        init(categories: Int) {
            self.categories = categories
            let cells = categories * Self.areas * Self.limits
            precision = [Double](repeating: -1, count: Self.thresholds * Self.recallPoints * cells)
            recall = [Double](repeating: -1, count: Self.thresholds * cells)
        }

        func precisionIndex(t: Int, r: Int, k: Int, a: Int, m: Int) -> Int {
            (((t * Self.recallPoints + r) * categories + k) * Self.areas + a) * Self.limits + m
        }

        func recallIndex(t: Int, k: Int, a: Int, m: Int) -> Int {
            ((t * categories + k) * Self.areas + a) * Self.limits + m
        }
    }

    static func accumulate(_ cells: Cells) -> Accumulated {
        var accumulated = Accumulated(categories: cells.byCategory.count)
        for k in cells.byCategory.indices {
            let imageCells = cells.imageIDs.compactMap { cells.byCategory[k][$0] }
            if imageCells.isEmpty { continue }
            for a in areaRanges.indices {
                let results = imageCells.map { evaluate($0, area: areaRanges[a]) }
                let countedTruth = results.reduce(0) { $0 + $1.countedTruth }
                if countedTruth == 0 { continue }
                for (m, maxDetection) in maxDetections.enumerated() {
                    // Concatenate the top detections of every image, then sort all by score.
                    var entries: [(score: Double, image: Int, index: Int)] = []
                    for (i, result) in results.enumerated() {
                        for d in 0..<min(maxDetection, result.scores.count) {
                            entries.append((result.scores[d], i, d))
                        }
                    }
                    let order = entries.indices.sorted {
                        entries[$0].score != entries[$1].score
                            ? entries[$0].score > entries[$1].score : $0 < $1
                    }
                    for t in iouThresholds.indices {
                        var truePositives = 0.0
                        var falsePositives = 0.0
                        var recalls = [Double]()
                        var precisions = [Double]()
                        recalls.reserveCapacity(order.count)
                        precisions.reserveCapacity(order.count)
                        for position in order {
                            let entry = entries[position]
                            let result = results[entry.image]
                            if result.ignored[t][entry.index] {
                                // Neither a true nor a false positive: the counts repeat.
                            } else if result.matchedTruthID[t][entry.index] != 0 {
                                truePositives += 1
                            } else {
                                falsePositives += 1
                            }
                            recalls.append(truePositives / Double(countedTruth))
                            precisions.append(
                                truePositives / (falsePositives + truePositives + Double.ulpOfOne))
                        }
                        accumulated.recall[accumulated.recallIndex(t: t, k: k, a: a, m: m)] =
                            recalls.last ?? 0
                        if precisions.count > 1 {
                            for i in stride(from: precisions.count - 1, to: 0, by: -1)
                            where precisions[i] > precisions[i - 1] {
                                precisions[i - 1] = precisions[i]
                            }
                        }
                        var position = 0
                        for (r, threshold) in recallThresholds.enumerated() {
                            // searchsorted(recalls, threshold, side="left")
                            while position < recalls.count && recalls[position] < threshold {
                                position += 1
                            }
                            let index = accumulated.precisionIndex(t: t, r: r, k: k, a: a, m: m)
                            accumulated.precision[index] =
                                position < recalls.count ? precisions[position] : 0
                        }
                    }
                }
            }
        }
        return accumulated
    }
}
