import Foundation

/// The twelve numbers of pycocotools' `summarize()` for boxes, in 0...1
/// (-1 where no truth box falls in the area range, as pycocotools reports).
///
///     metrics.ap        // AP @ IoU 0.50:0.95, all areas, 100 detections per image
///     metrics.summary   // " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.267" ...
///     metrics.json      // {"AP": 0.267..., "AP50": ..., ..., "ARl": ...}
public struct COCOBoxMetrics: Equatable, Sendable {
    public var ap: Double
    public var ap50: Double
    public var ap75: Double
    public var apSmall: Double
    public var apMedium: Double
    public var apLarge: Double
    public var ar1: Double
    public var ar10: Double
    public var ar100: Double
    public var arSmall: Double
    public var arMedium: Double
    public var arLarge: Double
    /// AP @ IoU 0.50:0.95 (all areas, 100 detections) per category id; -1 for
    /// a category without truth boxes.
    public var perCategoryAP: [Int: Double]

    /// The names of the twelve numbers, in `values` order: AP, AP50, AP75,
    /// APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl.
    public static let keys = [
        "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
    ]

    /// The twelve numbers in pycocotools' `stats` order.
    public var values: [Double] {
        [ap, ap50, ap75, apSmall, apMedium, apLarge, ar1, ar10, ar100, arSmall, arMedium, arLarge]
    }

    /// The twelve lines `summarize()` prints, in its exact format.
    public var summary: String {
        let lines: [(average: String, iou: String, area: String, maxDets: Int)] = [
            ("Precision", "0.50:0.95", "all", 100), ("Precision", "0.50", "all", 100),
            ("Precision", "0.75", "all", 100), ("Precision", "0.50:0.95", "small", 100),
            ("Precision", "0.50:0.95", "medium", 100), ("Precision", "0.50:0.95", "large", 100),
            ("Recall", "0.50:0.95", "all", 1), ("Recall", "0.50:0.95", "all", 10),
            ("Recall", "0.50:0.95", "all", 100), ("Recall", "0.50:0.95", "small", 100),
            ("Recall", "0.50:0.95", "medium", 100), ("Recall", "0.50:0.95", "large", 100),
        ]
        return zip(lines, values).map { line, value in
            let title = "Average \(line.average)".padding(toLength: 18, withPad: " ", startingAt: 0)
            let kind = line.average == "Precision" ? "(AP)" : "(AR)"
            let iou = line.iou.padding(toLength: 9, withPad: " ", startingAt: 0)
            let area = String(repeating: " ", count: max(0, 6 - line.area.count)) + line.area
            let maxDets = String(format: "%3d", line.maxDets)
            return " \(title) \(kind) @[ IoU=\(iou) | area=\(area) | maxDets=\(maxDets) ] = "
                + String(format: "%0.3f", value)
        }.joined(separator: "\n")
    }

    /// `{"AP": ..., ..., "ARl": ...}` with every digit of each number.
    public var json: String {
        "{" + zip(Self.keys, values).map { "\"\($0)\": \($1)" }.joined(separator: ", ") + "}"
    }

    init(accumulated: COCOBoxEvaluator.Accumulated, categoryIDs: [Int]) {
        let thresholds = COCOBoxEvaluator.iouThresholds
        let all = Array(thresholds.indices)
        let at50 = thresholds.indices.filter { thresholds[$0] == 0.5 }
        let at75 = thresholds.indices.filter { thresholds[$0] == 0.75 }
        let categories = Array(categoryIDs.indices)
        func precision(_ t: [Int], area: Int, _ categories: [Int]) -> Double {
            var values = [Double]()
            for tIndex in t {
                for r in COCOBoxEvaluator.recallThresholds.indices {
                    for k in categories {
                        let index = accumulated.precisionIndex(t: tIndex, r: r, k: k, a: area, m: 2)
                        values.append(accumulated.precision[index])
                    }
                }
            }
            return Self.meanOfValid(values)
        }
        func recall(area: Int, maxDets m: Int) -> Double {
            var values = [Double]()
            for t in all {
                for k in categories {
                    values.append(accumulated.recall[accumulated.recallIndex(t: t, k: k, a: area, m: m)])
                }
            }
            return Self.meanOfValid(values)
        }
        ap = precision(all, area: 0, categories)
        ap50 = precision(at50, area: 0, categories)
        ap75 = precision(at75, area: 0, categories)
        apSmall = precision(all, area: 1, categories)
        apMedium = precision(all, area: 2, categories)
        apLarge = precision(all, area: 3, categories)
        ar1 = recall(area: 0, maxDets: 0)
        ar10 = recall(area: 0, maxDets: 1)
        ar100 = recall(area: 0, maxDets: 2)
        arSmall = recall(area: 1, maxDets: 2)
        arMedium = recall(area: 2, maxDets: 2)
        arLarge = recall(area: 3, maxDets: 2)
        var perCategory = [Int: Double]()
        for (k, id) in categoryIDs.enumerated() { perCategory[id] = precision(all, area: 0, [k]) }
        perCategoryAP = perCategory
    }

    /// The mean of the values above -1, or -1 when there are none (as `_summarize`).
    static func meanOfValid(_ values: [Double]) -> Double {
        let valid = values.filter { $0 > -1 }
        return valid.isEmpty ? -1 : valid.reduce(0, +) / Double(valid.count)
    }
}
