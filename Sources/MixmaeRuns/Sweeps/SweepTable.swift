import Foundation
import MixmaeSupport

/// One table of a sweep (`mixmae runs compare --sweep ID`, `/api/sweeps/ID`): a row
/// per grid point with the varied keys' values, each stage's run, status and
/// final metrics, and the compute both stages used; then, when the grid varies
/// `seed`, the mean and standard deviation over seeds of every other combination.
///
/// ```swift
/// let table = try SweepTable(registry: registry, sweep: 3)
/// table.rows.first?.stages.last?.metrics["top1"]
/// ```
public struct SweepTable: Encodable, Sendable {
    /// A stage's run at one point: the newest run tagged with it.
    public struct StageResult: Encodable, Sendable {
        public var stage: Int
        public var run: RunID?
        public var task: String?
        public var status: String?
        /// Each metric's last logged value (NaN is written null).
        public var metrics: [String: Double?]
    }

    public struct Row: Encodable, Sendable {
        public var point: Int
        /// The varied keys' values, in grid order (``SweepTable/keys``).
        public var values: [String]
        public var stages: [StageResult]
        /// `compute_tflops` summed over the stages that logged it.
        public var computeTFLOPs: Double?

        enum CodingKeys: String, CodingKey {
            case point, values, stages, computeTFLOPs = "compute_tflops"
        }
    }

    /// The mean and standard deviation (n - 1) of one column over the rows of a group.
    public struct Statistic: Encodable, Sendable {
        public var mean: Double
        public var std: Double?
        public var count: Int
    }

    /// Rows that differ only in `seed`, summarised.
    public struct Group: Encodable, Sendable {
        /// The values of the varied keys but `seed`, in ``SweepTable/groupKeys`` order.
        public var values: [String]
        public var points: [Int]
        /// By column name (``SweepTable/columns``), e.g. `2.top1`.
        public var statistics: [String: Statistic]
    }

    /// A metric column: `stage.metric`.
    public struct Column: Encodable, Sendable {
        public var stage: Int
        public var metric: String
        public var name: String { "\(stage).\(metric)" }
    }

    public var sweep: Int64
    public var createdAt: Date
    public var spec: SweepSpec
    /// The varied keys, in grid order (a zipped axis gives each of its keys).
    public var keys: [String]
    public var columns: [Column]
    public var rows: [Row]
    /// The keys groups are formed by (every varied key but `seed`), empty when `seed` is not varied.
    public var groupKeys: [String]
    public var groups: [Group]

    /// The metrics shown when none are asked for, in this order, where a stage logged them.
    public static let defaultMetrics = [
        "val_loss", "top1", "top5", "AP", "AP50", "mIoU", "aAcc", "gflops", "compute_tflops",
    ]

    /// The table of sweep `id`; `metrics` (default ``defaultMetrics``) picks the columns,
    /// each shown for the stages that logged it.
    public init(registry: RunRegistry, sweep id: Int64, metrics: [String]? = nil) throws {
        let record = try registry.sweep(id)
        sweep = id
        createdAt = record.createdAt
        spec = record.spec
        keys = record.spec.grid.flatMap(\.keys)
        let members = try registry.members(ofSweep: id)
        var newest: [String: SweepMember] = [:]
        for member in members { newest["\(member.point).\(member.stage)"] = member }
        var finals: [RunID: [String: Double]] = [:]
        for member in newest.values {
            var values: [String: Double] = [:]
            for summary in try registry.metricSummaries(ofRun: member.run.id) {
                values[summary.name] = summary.last.value
            }
            finals[member.run.id] = values
        }
        let wanted = metrics ?? Self.defaultMetrics
        columns = (1...record.spec.stageCount).flatMap { stage in
            wanted.filter { metric in
                newest.values.contains { $0.stage == stage && finals[$0.run.id]?[metric] != nil }
            }.map { Column(stage: stage, metric: $0) }
        }
        let columns = self.columns
        rows = record.spec.points.map { point in
            let stages = (1...record.spec.stageCount).map { stage -> StageResult in
                guard let member = newest["\(point.index).\(stage)"] else {
                    return StageResult(stage: stage, metrics: [:])
                }
                let values = finals[member.run.id] ?? [:]
                var shown: [String: Double?] = [:]
                for column in columns where column.stage == stage {
                    shown[column.metric] = values[column.metric].map { $0.isNaN ? nil : $0 }
                }
                return StageResult(
                    stage: stage, run: member.run.id, task: member.run.task, status: member.run.status.rawValue,
                    metrics: shown)
            }
            let compute = stages.compactMap { $0.run.flatMap { finals[$0]?["compute_tflops"] } }
            return Row(
                point: point.index, values: point.assignments.map(\.value), stages: stages,
                computeTFLOPs: compute.isEmpty ? nil : compute.reduce(0, +))
        }
        let seedAxis = keys.firstIndex(of: "seed")
        groupKeys = seedAxis == nil ? [] : keys.enumerated().filter { $0.offset != seedAxis }.map(\.element)
        groups = []
        if let seedAxis {
            var order: [[String]] = []
            var members: [[String]: [Row]] = [:]
            for row in rows {
                let key = row.values.enumerated().filter { $0.offset != seedAxis }.map(\.element)
                if members[key] == nil { order.append(key) }
                members[key, default: []].append(row)
            }
            groups = order.map { key in
                let grouped = members[key] ?? []
                var statistics: [String: Statistic] = [:]
                for column in columns {
                    let values = grouped.compactMap { $0.stages[column.stage - 1].metrics[column.metric] ?? nil }
                    if let statistic = Self.statistic(values) { statistics[column.name] = statistic }
                }
                if let statistic = Self.statistic(grouped.compactMap(\.computeTFLOPs)) {
                    statistics["compute_tflops"] = statistic
                }
                return Group(values: key, points: grouped.map(\.point), statistics: statistics)
            }
        }
    }

    static func statistic(_ values: [Double]) -> Statistic? {
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return Statistic(mean: mean, std: nil, count: 1) }
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
        return Statistic(mean: mean, std: variance.squareRoot(), count: values.count)
    }

    enum CodingKeys: String, CodingKey {
        case sweep, createdAt = "created_at", spec, keys, columns, rows, groupKeys = "group_keys", groups
    }

    /// The table as text: the points, then the means over seeds.
    public func rendered() -> String {
        var header = ["POINT"] + keys
        var stageHeaders: [String] = []
        for stage in 1...spec.stageCount { stageHeaders += ["RUN \(stage)", "STATUS \(stage)"] }
        header += stageHeaders + columns.map(\.name) + ["TFLOPs"]
        let numeric = Set((1 + keys.count + stageHeaders.count)..<header.count)
        var table = TextTable(header, rightAligned: numeric)
        for row in rows {
            var cells = [String(row.point)] + row.values
            for stage in row.stages { cells += [stage.run.map(String.init) ?? "-", stage.status ?? "not run"] }
            cells += columns.map { column in
                (row.stages[column.stage - 1].metrics[column.metric] ?? nil).map(Self.format) ?? "-"
            }
            cells.append(row.computeTFLOPs.map(Self.format) ?? "-")
            table.append(cells)
        }
        var out = "sweep \(sweep): \(spec.recipe)" + (spec.then.map { " then \($0.recipe)" } ?? "") + "\n"
        out += table.rendered() + "\n"
        guard !groups.isEmpty else { return out }
        var summary = TextTable(
            groupKeys + ["SEEDS"] + columns.map(\.name) + ["TFLOPs"],
            rightAligned: Set(groupKeys.count..<(groupKeys.count + 2 + columns.count)))
        for group in groups {
            let seeds = group.points.count
            summary.append(
                group.values + [String(seeds)]
                    + (columns.map(\.name) + ["compute_tflops"]).map { name in
                        group.statistics[name].map { s in
                            Self.format(s.mean) + (s.std.map { " ± " + Self.format($0) } ?? "")
                        } ?? "-"
                    })
        }
        out += "\nmean ± sd over seed\n" + summary.rendered() + "\n"
        return out
    }

    static func format(_ value: Double) -> String { String(format: "%.4g", value) }
}
