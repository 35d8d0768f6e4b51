import Foundation

/// A run as `runs list` shows it: its record and, when metrics were asked for, the last
/// value of each (null when the run logged none). JSON: the record's keys plus `metrics`.
/// `mixmae runs list --format json` and `mixmae ui`'s `/api/runs` both encode it.
public struct ListedRun: Encodable {
    public var run: RunRecord
    public var metrics: [String: Double?]?

    public init(run: RunRecord, metrics: [String: Double?]?) {
        self.run = run
        self.metrics = metrics
    }

    enum CodingKeys: String, CodingKey { case metrics }

    public func encode(to encoder: Encoder) throws {
        try run.encode(to: encoder)
        if let metrics {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(metrics, forKey: .metrics)
        }
    }
}

extension RunRegistry {
    /// Runs newest first, filtered as ``runs(task:status:since:)``, each with the last value
    /// of every metric in `metrics` (nil: no `metrics` key at all, as without `--metrics`).
    ///
    /// ```swift
    /// let listed = try registry.listedRuns(task: "classify", metrics: ["top1"])
    /// listed.first?.metrics?["top1"]   // Optional(Optional(0.83))
    /// ```
    public func listedRuns(
        task: String? = nil, status: RunStatus? = nil, since: Date? = nil, metrics: [String]? = nil
    ) throws -> [ListedRun] {
        try listedRuns(of: try runs(task: task, status: status, since: since), metrics: metrics)
    }

    /// `found` as ``listedRuns(task:status:since:metrics:)`` lists them: each with the last
    /// value of every metric in `metrics`. A page of runs needs the metric queries of its own
    /// runs only.
    public func listedRuns(of found: [RunRecord], metrics: [String]?) throws -> [ListedRun] {
        try database.readTransaction {
            try found.map { run in
                ListedRun(
                    run: run,
                    metrics: try metrics.map { names in
                        try Dictionary(
                            names.map { name in
                                (name, try lastValue(ofRun: run.id, named: name))
                            },
                            uniquingKeysWith: { first, _ in first })
                    })
            }
        }
    }

    /// The value of metric `name` at run `id`'s highest step (the first logged at that step);
    /// NaN is read back as NaN.
    func lastValue(ofRun id: RunID, named name: String) throws -> Double? {
        try database.queryFirst(
            "SELECT value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step DESC, id ASC LIMIT 1",
            [id, name]
        ) { $0.optionalDouble(0) ?? .nan }
    }
}

extension RunRegistry {
    /// Every metric name any run logged, sorted: what a metric column can show.
    public func metricNames() throws -> [String] {
        // Jumps through the metrics_name index (schema v3) from each name to the next larger
        // one; `SELECT DISTINCT name` would read all rows (400,000 for 1,000 runs: 0.2-0.4 s).
        try database.query(
            """
            WITH RECURSIVE names(name) AS (
                SELECT min(name) FROM metrics
                UNION ALL
                SELECT (SELECT min(name) FROM metrics WHERE name > names.name) FROM names
                WHERE names.name IS NOT NULL
            )
            SELECT name FROM names WHERE name IS NOT NULL
            """
        ) { $0.text(0) }
    }

    /// Every task any run has, sorted.
    public func taskNames() throws -> [String] {
        try database.query("SELECT DISTINCT task FROM runs ORDER BY task") { $0.text(0) }
    }
}
