import CSQLite
import Foundation
import MixmaeRuns
import TestSupport
import Testing

@Suite struct SQLiteDatabaseTests {
    @Test func opensWithWALForeignKeysAndBusyTimeout() throws {
        let directory = try TemporaryFolder("sqlite")
        let db = try SQLiteDatabase(path: directory.file("a.sqlite"))
        #expect(try db.query("PRAGMA journal_mode") { $0.text(0) } == ["wal"])
        #expect(try db.query("PRAGMA foreign_keys") { $0.int(0) } == [1])
        #expect(try db.query("PRAGMA busy_timeout") { $0.int(0) } == [5000])
        #expect(try db.query("PRAGMA synchronous") { $0.int(0) } == [1])  // NORMAL
    }

    @Test func typedBindsAndColumnsRoundTrip() throws {
        let directory = try TemporaryFolder("sqlite")
        let db = try SQLiteDatabase(path: directory.file("a.sqlite"))
        try db.execute("CREATE TABLE t(i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        let text = "héllo, 世界 \u{1F600}"
        try db.writeTransaction {
            try db.run(
                "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                [Int64.min, 0.1, text, SQLiteValue.blob([0, 1, 255]), String?.none])
        }
        let row = try db.queryFirst("SELECT i, r, s, b, n FROM t") { row in
            (row.int64(0), row.double(1), row.text(2), row.blob(3), row.optionalText(4), row.isNull(4))
        }
        #expect(row?.0 == Int64.min)
        #expect(row?.1 == 0.1)
        #expect(row?.2 == text)
        #expect(row?.3 == [0, 1, 255])
        #expect(row?.4 == nil)
        #expect(row?.5 == true)
    }

    @Test func errorsCarryTheSQLAndSqlitesMessage() throws {
        let directory = try TemporaryFolder("sqlite")
        let db = try SQLiteDatabase(path: directory.file("a.sqlite"))
        try db.execute("CREATE TABLE t(k TEXT PRIMARY KEY)")
        try db.run("INSERT INTO t VALUES ('x')")
        let error = thrownError { try db.run("INSERT INTO t VALUES (?)", ["x"]) }
        let sqliteError = try #require(error as? SQLiteError)
        #expect(sqliteError.code == SQLITE_CONSTRAINT)
        #expect(sqliteError.message.contains("UNIQUE constraint failed: t.k"))
        #expect(sqliteError.sql == "INSERT INTO t VALUES (?)")
        #expect(sqliteError.description.contains("while running: INSERT INTO t VALUES (?)"))
        let syntax = thrownError { _ = try db.query("SELEC nonsense") { $0.int(0) } }
        #expect("\(syntax!)".contains("SELEC nonsense"))
        #expect("\(syntax!)".contains("syntax error"))
        let count = thrownError { try db.run("INSERT INTO t VALUES (?)", ["a", "b"]) }
        #expect("\(count!)".contains("takes 1 parameters but 2 values"))
    }

    @Test func aFailingTransactionRollsBack() throws {
        let directory = try TemporaryFolder("sqlite")
        let db = try SQLiteDatabase(path: directory.file("a.sqlite"))
        try db.execute("CREATE TABLE t(v INTEGER)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.writeTransaction {
                try db.run("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.query("SELECT COUNT(*) FROM t") { $0.int(0) } == [0])
        try db.writeTransaction { try db.run("INSERT INTO t VALUES (2)") }
        #expect(try db.query("SELECT v FROM t") { $0.int(0) } == [2])
    }

    /// Another connection holds the write lock for longer than the busy timeout: the
    /// writer retries with backoff and succeeds once the lock is released.
    @Test func writeTransactionOutlastsALockLongerThanTheBusyTimeout() throws {
        let directory = try TemporaryFolder("sqlite")
        let path = directory.file("a.sqlite")
        var options = SQLiteDatabase.Options()
        options.busyTimeoutMilliseconds = 20
        options.retryBudgetSeconds = 10
        let writer = try SQLiteDatabase(path: path, options: options)
        try writer.execute("CREATE TABLE t(v INTEGER)")
        let holder = try SQLiteDatabase(path: path)
        try holder.execute("BEGIN IMMEDIATE")
        try holder.run("INSERT INTO t VALUES (1)")
        let released = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.4)
            try? holder.execute("COMMIT")
            released.signal()
        }
        let start = Date()
        try writer.writeTransaction { try writer.run("INSERT INTO t VALUES (2)") }
        let waited = Date().timeIntervalSince(start)
        released.wait()
        #expect(waited >= 0.3)
        #expect(try writer.query("SELECT v FROM t ORDER BY v") { $0.int(0) } == [1, 2])
    }

    @Test func retryBudgetExhaustedIsAClearError() throws {
        let directory = try TemporaryFolder("sqlite")
        let path = directory.file("a.sqlite")
        var options = SQLiteDatabase.Options()
        options.busyTimeoutMilliseconds = 10
        options.retryBudgetSeconds = 0.2
        let writer = try SQLiteDatabase(path: path, options: options)
        try writer.execute("CREATE TABLE t(v INTEGER)")
        let holder = try SQLiteDatabase(path: path)
        try holder.execute("BEGIN IMMEDIATE")
        defer { try? holder.execute("ROLLBACK") }
        let error = thrownError { try writer.writeTransaction { try writer.run("INSERT INTO t VALUES (1)") } }
        let timeout = try #require(error as? SQLiteBusyTimeout)
        #expect(timeout.attempts > 1)
        #expect(timeout.description.contains("stayed locked by other processes"))
        #expect(timeout.description.contains(path))
    }
}
