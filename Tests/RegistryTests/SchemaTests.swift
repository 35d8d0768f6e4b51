import Foundation
import MixmaeRuns
import TestSupport
import Testing

@Suite struct SchemaTests {
    @Test func emptyDatabaseMigratesToTheLatestVersion() throws {
        let directory = try TemporaryFolder("schema")
        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        let latest = try SchemaMigrator(migrations: RegistrySchema.migrations).latestVersion
        #expect(latest >= 1)
        #expect(try registry.database.userVersion() == latest)
        let tables = Set(
            try registry.database.query("SELECT name FROM sqlite_master WHERE type = 'table'") { $0.text(0) })
        for table in ["runs", "run_attempts", "run_plugins", "artifacts", "events", "metrics", "tags"] {
            #expect(tables.contains(table), "missing table \(table)")
        }
        let indexes = Set(
            try registry.database.query("SELECT name FROM sqlite_master WHERE type = 'index'") { $0.text(0) })
        #expect(indexes.isSuperset(of: ["runs_status", "events_artifact", "metrics_run_name_step"]))
        // Opening again is a no-op.
        let again = try RunRegistry(home: directory.url, options: quietOptions())
        #expect(try again.database.userVersion() == latest)
        #expect(FileManager.default.fileExists(atPath: directory.file("registry.sqlite")))
    }

    /// A registry written at schema v2 (before the metrics(name) index): a read-only reader
    /// (the UI) says how to upgrade it; opening it for writing migrates it to v3 with its rows
    /// intact, and the metric names come from the new index, sorted, without a table scan.
    @Test func aVersion2RegistryGainsTheMetricNameIndex() throws {
        let directory = try TemporaryFolder("schema-v2")
        do {
            let db = try SQLiteDatabase(path: directory.file("registry.sqlite"))
            try SchemaMigrator(migrations: Array(RegistrySchema.migrations.prefix(2))).migrate(db)
            try db.run(
                """
                INSERT INTO runs(task, status, recipe_text, recipe_sha256, host, pid, started_at, heartbeat_at)
                VALUES ('pretrain', 'FINISHED', 'task: pretrain', ?, 'host', 1, 0, 0)
                """, [String(repeating: "0", count: 64)])
            for (step, name) in [(1, "loss"), (1, "lr"), (2, "loss"), (2, "top1"), (3, "AP"), (3, "loss")] {
                try db.run(
                    "INSERT INTO metrics(run_id, step, name, value, time) VALUES (1, ?, ?, 0.5, 0)", [step, name])
            }
            #expect(try db.userVersion() == 2)
            #expect(try db.query("SELECT name FROM sqlite_master WHERE name = 'metrics_name'") { $0.text(0) }.isEmpty)
        }
        var readOnly = quietOptions()
        readOnly.readOnly = true
        let refused = thrownError { _ = try RunRegistry(home: directory.url, options: readOnly) }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("schema is version 2, older than this mixmae's 3"))

        let registry = try RunRegistry(home: directory.url, options: quietOptions())
        #expect(try registry.database.userVersion() == 3)
        #expect(try registry.database.query("SELECT COUNT(*) FROM metrics") { $0.int(0) } == [6])
        #expect(try registry.metricNames() == ["AP", "loss", "lr", "top1"])
        let plan = try registry.database.query(
            "EXPLAIN QUERY PLAN SELECT min(name) FROM metrics WHERE name > 'loss'"
        ) { $0.text(3) }
        #expect(plan.contains { $0.contains("USING COVERING INDEX metrics_name") }, "\(plan)")
        #expect(try RunRegistry(home: directory.url, options: readOnly).metricNames() == ["AP", "loss", "lr", "top1"])
    }

    @Test func aNewerDatabaseIsRefusedWithAClearMessage() throws {
        let directory = try TemporaryFolder("schema")
        do {
            let db = try SQLiteDatabase(path: directory.file("registry.sqlite"))
            try db.setUserVersion(99)
        }
        let error = thrownError { _ = try RunRegistry(home: directory.url, options: quietOptions()) }
        guard case SchemaError.tooNew(_, let found, let supported)? = error as? SchemaError else {
            Issue.record("expected SchemaError.tooNew, got \(String(describing: error))")
            return
        }
        #expect(found == 99)
        #expect(supported == RegistrySchema.migrations.count)
        #expect("\(error!)".contains("schema version 99"))
        #expect("\(error!)".contains("written by a newer mixmae"))
        // The database was not touched.
        let db = try SQLiteDatabase(path: directory.file("registry.sqlite"))
        #expect(try db.userVersion() == 99)
        #expect(try db.query("SELECT COUNT(*) FROM sqlite_master") { $0.int(0) } == [0])
    }

    @Test func aDamagedDatabaseIsReportedAndLeftAlone() throws {
        let directory = try TemporaryFolder("damaged")
        let file = directory.fileURL("registry.sqlite")
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        try garbage.write(to: file)
        let error = thrownError { _ = try RunRegistry(home: directory.url, options: quietOptions()) }
        let damaged = try #require(error as? DamagedRegistryError, "\(String(describing: error))")
        #expect(damaged.description.contains("\(file.path) is damaged"))
        #expect(damaged.description.contains("mixmae runs recover"))
        #expect(try Data(contentsOf: file) == garbage)
    }

    @Test func onlyPendingStepsRunInOrder() throws {
        let directory = try TemporaryFolder("schema")
        let db = try SQLiteDatabase(path: directory.file("m.sqlite"))
        let one = SchemaMigration(version: 1, summary: "t") { try $0.execute("CREATE TABLE t(a INTEGER)") }
        let two = SchemaMigration(version: 2, summary: "add b") { try $0.execute("ALTER TABLE t ADD COLUMN b TEXT") }
        let three = SchemaMigration(version: 3, summary: "index b") { try $0.execute("CREATE INDEX t_b ON t(b)") }
        let first = try SchemaMigrator(migrations: [one]).migrate(db)
        #expect(first.from == 0 && first.to == 1)
        try db.run("INSERT INTO t(a) VALUES (7)")
        let second = try SchemaMigrator(migrations: [one, two, three]).migrate(db)
        #expect(second.from == 1 && second.to == 3)
        #expect(try db.userVersion() == 3)
        #expect(try db.query("SELECT a, b FROM t") { "\($0.int(0)) \($0.optionalText(1) ?? "nil")" } == ["7 nil"])
        #expect(try db.query("SELECT name FROM sqlite_master WHERE name = 't_b'") { $0.text(0) } == ["t_b"])
    }

    @Test func aFailingStepLeavesTheDatabaseUnchanged() throws {
        let directory = try TemporaryFolder("schema")
        let db = try SQLiteDatabase(path: directory.file("m.sqlite"))
        let one = SchemaMigration(version: 1, summary: "t") { try $0.execute("CREATE TABLE t(a INTEGER)") }
        let broken = SchemaMigration(version: 2, summary: "broken step") { db in
            try db.execute("CREATE TABLE u(a INTEGER)")
            try db.execute("ALTER TABLE missing ADD COLUMN x")
        }
        try SchemaMigrator(migrations: [one]).migrate(db)
        let error = thrownError { try SchemaMigrator(migrations: [one, broken]).migrate(db) }
        #expect("\(error!)".contains("schema version 2 (broken step) failed"))
        #expect("\(error!)".contains("no such table: missing"))
        #expect(try db.userVersion() == 1)
        #expect(try db.query("SELECT name FROM sqlite_master WHERE name = 'u'") { $0.text(0) }.isEmpty)
    }

    @Test func stepsMustBeNumberedWithoutGaps() {
        let error = thrownError {
            _ = try SchemaMigrator(migrations: [SchemaMigration(version: 2, summary: "x") { _ in }])
        }
        #expect("\(error!)".contains("numbered 1, 2, 3"))
    }
}
