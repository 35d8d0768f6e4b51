import Foundation
import MixmaeData
import MixmaeSupport

/// Semantic segmentation metrics accumulated over a whole set, exactly as
/// mmsegmentation's IoUMetric: per class, intersection and union are summed
/// over all images first, then IoU = intersection / union.
///
///     var evaluator = try SegmentationEvaluator(classCount: 150)
///     for (prediction, truth) in pairs {
///         try evaluator.add(prediction: prediction, truth: truth, name: truth.name)
///     }
///     let metrics = evaluator.metrics
///     metrics.meanIoU, metrics.pixelAccuracy, metrics.perClassIoU
///
/// Pixels whose truth is `ignoreIndex` are skipped entirely. As in mmseg,
/// predicted values outside 0..<classCount (such as 255) count for no class,
/// so they are simply wrong; truth values outside 0..<classCount other than
/// the ignore index count for no class either (and are tallied in
/// `outOfRangeTruthPixels`, since they usually mean a wrong class count).
public struct SegmentationEvaluator: Sendable {
    public let classCount: Int
    public let ignoreIndex: Int
    /// mmseg's `reduce_zero_label` (ADE20K): truth 0 becomes ignored and every
    /// other truth value v becomes v - 1, before comparing.
    public let reduceZeroLabel: Bool

    /// Per class: pixels where prediction and truth are both the class.
    public private(set) var intersection: [Int]
    /// Per class: pixels predicted as the class (on non-ignored truth).
    public private(set) var predictedArea: [Int]
    /// Per class: pixels whose truth is the class.
    public private(set) var truthArea: [Int]
    /// Non-ignored truth pixels with a value outside 0..<classCount.
    public private(set) var outOfRangeTruthPixels = 0
    /// Images added so far.
    public private(set) var imageCount = 0

    public init(classCount: Int, ignoreIndex: Int = 255, reduceZeroLabel: Bool = false) throws {
        guard classCount > 0 else {
            throw InputError(
                file: "segmentation", problem: "the class count must be positive, got \(classCount)")
        }
        self.classCount = classCount
        self.ignoreIndex = ignoreIndex
        self.reduceZeroLabel = reduceZeroLabel
        intersection = [Int](repeating: 0, count: classCount)
        predictedArea = intersection
        truthArea = intersection
    }

    /// Adds one image given as two single-channel label maps of equal size.
    public mutating func add(prediction: Image, truth: Image, name: String = "<image>") throws {
        guard prediction.channels == 1, truth.channels == 1 else {
            throw InputError(
                file: name,
                problem: "label maps must have 1 channel; prediction has \(prediction.channels), "
                    + "truth has \(truth.channels)")
        }
        guard prediction.width == truth.width, prediction.height == truth.height else {
            throw InputError(
                file: name,
                problem: "prediction is \(prediction.width)x\(prediction.height) but truth is "
                    + "\(truth.width)x\(truth.height); predict at the label map's size")
        }
        try add(prediction: prediction.pixels, truth: truth.pixels, name: name)
    }

    /// Adds one image given as class indices in the same pixel order.
    public mutating func add(prediction: [UInt8], truth: [UInt8], name: String = "<image>") throws {
        try accumulate(prediction, truth, name: name)
    }

    /// Adds one image given as class indices in the same pixel order.
    public mutating func add(prediction: [Int32], truth: [UInt8], name: String = "<image>") throws {
        try accumulate(prediction, truth, name: name)
    }

    /// Adds one image given as class indices in the same pixel order.
    public mutating func add(prediction: [Int], truth: [UInt8], name: String = "<image>") throws {
        try accumulate(prediction, truth, name: name)
    }

    private mutating func accumulate<P: BinaryInteger>(_ prediction: [P], _ truth: [UInt8], name: String)
        throws
    {
        guard prediction.count == truth.count else {
            throw InputError(
                file: name,
                problem: "prediction has \(prediction.count) pixels but truth has \(truth.count)")
        }
        let classes = classCount
        var lookup = [Int](repeating: -1, count: 256)  // truth value -> class, -1 ignored, -2 out of range
        for value in 0..<256 {
            // mmseg's reduce_zero_label: 0 -> 255, v -> v - 1, 255 stays 255.
            let label = reduceZeroLabel ? (value == 0 || value == 255 ? 255 : value - 1) : value
            lookup[value] = label == ignoreIndex ? -1 : (label < classes ? label : -2)
        }
        var outOfRange = 0
        intersection.withUnsafeMutableBufferPointer { intersection in
            predictedArea.withUnsafeMutableBufferPointer { predicted in
                truthArea.withUnsafeMutableBufferPointer { truthCounts in
                    for i in 0..<truth.count {
                        let label = lookup[Int(truth[i])]
                        if label == -1 { continue }
                        let predictedClass = prediction[i]
                        let inRange = predictedClass >= 0 && predictedClass < classes
                        if inRange { predicted[Int(predictedClass)] += 1 }
                        if label == -2 {
                            outOfRange += 1
                            continue
                        }
                        truthCounts[label] += 1
                        if inRange && Int(predictedClass) == label { intersection[label] += 1 }
                    }
                }
            }
        }
        outOfRangeTruthPixels += outOfRange
        imageCount += 1
    }

    /// IoU per class, mIoU and aAcc over everything added so far.
    public var metrics: SegmentationMetrics {
        var perClass = [Double]()
        for c in 0..<classCount {
            let union = predictedArea[c] + truthArea[c] - intersection[c]
            perClass.append(union == 0 ? .nan : Double(intersection[c]) / Double(union))
        }
        let present = perClass.filter { !$0.isNaN }
        let meanIoU = present.isEmpty ? .nan : present.reduce(0, +) / Double(present.count)
        let labelled = truthArea.reduce(0, +)
        let accuracy = labelled == 0 ? .nan : Double(intersection.reduce(0, +)) / Double(labelled)
        return SegmentationMetrics(perClassIoU: perClass, meanIoU: meanIoU, pixelAccuracy: accuracy)
    }
}

/// The result of `SegmentationEvaluator`, as fractions in 0...1.
public struct SegmentationMetrics: Equatable, Sendable {
    /// IoU per class; NaN for a class absent from both truth and prediction.
    public var perClassIoU: [Double]
    /// Mean of the per-class IoUs that are not NaN (mmseg's nanmean); a class
    /// that is predicted but absent from the truth counts as 0.
    public var meanIoU: Double
    /// aAcc: correctly labelled pixels over all non-ignored truth pixels.
    public var pixelAccuracy: Double

    public init(perClassIoU: [Double], meanIoU: Double, pixelAccuracy: Double) {
        self.perClassIoU = perClassIoU
        self.meanIoU = meanIoU
        self.pixelAccuracy = pixelAccuracy
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        return lhs.perClassIoU.count == rhs.perClassIoU.count
            && zip(lhs.perClassIoU, rhs.perClassIoU).allSatisfy(same)
            && same(lhs.meanIoU, rhs.meanIoU) && same(lhs.pixelAccuracy, rhs.pixelAccuracy)
    }

    /// `{"per_class_iou": [...], "mIoU": ..., "aAcc": ...}`; NaN is written as null.
    public var json: String {
        func number(_ value: Double) -> String { value.isNaN ? "null" : "\(value)" }
        return "{\"per_class_iou\": [" + perClassIoU.map(number).joined(separator: ", ")
            + "], \"mIoU\": \(number(meanIoU)), \"aAcc\": \(number(pixelAccuracy))}"
    }

    /// A table of per-class IoU followed by mIoU and aAcc, in percent.
    public func report(classNames: [String]? = nil) -> String {
        func percent(_ value: Double) -> String {
            value.isNaN ? "    nan" : String(format: "%7.2f", value * 100)
        }
        var lines = ["class      IoU"]
        for (c, iou) in perClassIoU.enumerated() {
            let name = classNames.flatMap { c < $0.count ? $0[c] : nil } ?? "\(c)"
            lines.append(name.padding(toLength: 8, withPad: " ", startingAt: 0) + percent(iou))
        }
        lines.append("mIoU    " + percent(meanIoU))
        lines.append("aAcc    " + percent(pixelAccuracy))
        return lines.joined(separator: "\n")
    }
}
