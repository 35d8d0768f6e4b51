import Foundation
import MixmaeRuns

/// Which metrics share a chart: one chart per family, every other metric on its own.
///
/// | Chart (file)         | Metrics (by the last part of the name)                      | y axis |
/// |----------------------|-------------------------------------------------------------|--------|
/// | `lr`                 | `lr`, `learning_rate`, `*_lr`                               | log    |
/// | `loss`               | anything containing `loss`                                  | linear |
/// | `accuracy`           | `top1`, `top5`, `top-1`, `acc`, `accuracy`, `*_acc`         | linear |
/// | `detection`          | `AP`, `AP50`, `APs`, `mAP`, `bbox_mAP`, `AR100`, ...        | linear |
/// | `segmentation`       | `mIoU`, `aAcc`, `mAcc`, `IoU*`                              | linear |
/// | `<metric>`           | anything else (`images_per_second`, `grad_norm`, ...)        | linear |
///
/// ```swift
/// CurvePlan.charts(for: ["loss", "lr", "top1", "top5", "val_loss"]).map(\.file)
/// // ["loss", "lr", "accuracy"]
/// ```
public enum CurvePlan {
    /// One planned chart: its file name (without `.svg`), title, axis and metrics.
    public struct Chart: Equatable {
        public var file: String
        public var title: String
        public var scale: LineChart.Scale
        public var metrics: [String]
    }

    /// The charts for a run's metric names, families first in the table's order, then the
    /// other metrics by name. Each metric is in exactly one chart.
    public static func charts(for names: [String]) -> [Chart] {
        var families: [Family: [String]] = [:]
        var others: [String] = []
        for name in Set(names).sorted() {
            if let family = Family(metric: name) {
                families[family, default: []].append(name)
            } else {
                others.append(name)
            }
        }
        var charts = Family.allCases.compactMap { family in
            families[family].map {
                Chart(file: family.rawValue, title: family.title, scale: family.scale, metrics: $0)
            }
        }
        var used = Set(charts.map(\.file))
        for name in others {
            var file = sanitized(name)
            var suffix = 2
            while used.contains(file) {
                file = sanitized(name) + "-\(suffix)"
                suffix += 1
            }
            used.insert(file)
            charts.append(Chart(file: file, title: name, scale: .linear, metrics: [name]))
        }
        return charts
    }

    private enum Family: String, CaseIterable {
        case loss, lr, accuracy, detection, segmentation

        var title: String {
            switch self {
            case .loss: return "Loss"
            case .lr: return "Learning rate"
            case .accuracy: return "Accuracy"
            case .detection: return "Detection AP / AR"
            case .segmentation: return "Segmentation"
            }
        }

        var scale: LineChart.Scale { self == .lr ? .logarithmic : .linear }

        init?(metric: String) {
            let last = metric.split(whereSeparator: { "./:".contains($0) }).last.map(String.init) ?? metric
            let lower = last.lowercased()
            if lower == "lr" || lower == "learning_rate" || lower.hasSuffix("_lr") {
                self = .lr
            } else if lower.contains("loss") {
                self = .loss
            } else if ["top1", "top5", "top-1", "top-5", "acc", "accuracy"].contains(lower)
                || lower.hasSuffix("_acc") || lower.hasSuffix("_accuracy")
            {
                self = .accuracy
            } else if ["miou", "aacc", "macc"].contains(lower) || lower.hasPrefix("iou") {
                self = .segmentation
            } else if Self.isDetectionMetric(lower) {
                self = .detection
            } else {
                return nil
            }
        }

        /// `ap`, `ap50`, `aps`, `ar100`, `arl`, `map`, `bbox_map`, `segm_map_50`, ...
        private static func isDetectionMetric(_ lower: String) -> Bool {
            let core = lower.split(separator: "_").contains {
                $0.hasPrefix("map") && $0.dropFirst(3).allSatisfy(\.isNumber)
            }
            if core { return true }
            for prefix in ["ap", "ar"] where lower.hasPrefix(prefix) {
                let rest = lower.dropFirst(2)
                if rest.isEmpty || rest.allSatisfy(\.isNumber) || ["s", "m", "l"].contains(String(rest)) {
                    return true
                }
            }
            return false
        }
    }

    /// A metric name as a file name: letters, digits, `-` and `_`.
    static func sanitized(_ name: String) -> String {
        let mapped = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        return mapped.isEmpty ? "metric" : mapped
    }
}

/// A run's metric curves as SVG charts, read from the registry and written into
/// `runs/<id>/curves/<chart>.svg` (see ``CurvePlan`` for which metrics share a chart).
///
/// ```swift
/// let files = try RunCurves(registry: registry, run: 12).write()
/// // [.../runs/12/curves/loss.svg, .../runs/12/curves/lr.svg, .../runs/12/curves/accuracy.svg]
/// ```
public struct RunCurves {
    public let registry: RunRegistry
    public let run: RunID

    public init(registry: RunRegistry, run: RunID) {
        self.registry = registry
        self.run = run
    }

    /// The folder the charts go to: `runs/<id>/curves/`.
    public var directory: URL {
        registry.outputDirectory(ofRun: run).appendingPathComponent("curves", isDirectory: true)
    }

    /// The run's charts, in ``CurvePlan`` order; none when the run logged no metric. A chart
    /// whose metrics have one value each (gflops, compute_tflops, a one-epoch accuracy) is left
    /// out: a single dot is no curve, and the metrics table shows the value.
    public func charts() throws -> [(plan: CurvePlan.Chart, chart: LineChart)] {
        let record = try registry.requireRun(run)
        let samples = try registry.metrics(ofRun: run)
        let byName = Dictionary(grouping: samples, by: \.name)
        let plans = CurvePlan.charts(for: Array(byName.keys)).filter { plan in
            plan.metrics.contains { (byName[$0]?.count ?? 0) > 1 }
        }
        return plans.map { plan in
            let series = plan.metrics.map { name in
                LineChart.Series(
                    name: name,
                    points: (byName[name] ?? []).map { LineChart.Point(x: Double($0.step), y: $0.value) })
            }
            let chart = LineChart(
                title: "\(plan.title) · run \(run) (\(record.task))", xLabel: "step", yScale: plan.scale,
                series: series)
            return (plan, chart)
        }
    }

    /// Writes every chart into ``directory`` (replacing charts from an earlier call) and
    /// returns the files written.
    @discardableResult
    public func write() throws -> [URL] {
        let charts = try charts()
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: directory, withIntermediateDirectories: true)
            let current = Set(charts.map { $0.plan.file + ".svg" })
            for old in try manager.contentsOfDirectory(atPath: directory.path)
            where old.hasSuffix(".svg") && !current.contains(old) {
                try manager.removeItem(at: directory.appendingPathComponent(old))
            }
            return try charts.map { plan, chart in
                let url = directory.appendingPathComponent(plan.file + ".svg")
                try chart.svgDocument().write(to: url, atomically: true, encoding: .utf8)
                return url
            }
        } catch let error as CocoaError {
            throw ReportError.cannotWrite(path: directory.path, reason: error.localizedDescription)
        }
    }
}
