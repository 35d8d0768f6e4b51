import CSQLite
import Foundation
import MixmaeSupport

/// A connection to one SQLite database file, set up for several processes writing at once.
///
/// Opening turns on WAL journaling (readers never block the writer), a busy timeout,
/// `synchronous=NORMAL` and foreign keys. Writes go through ``writeTransaction(_:)``, which
/// takes the write lock up front with `BEGIN IMMEDIATE` and, when other processes hold it
/// longer than the busy timeout, retries with jittered exponential backoff within a time
/// budget, so a busy database slows writers down instead of failing them with
/// "database is locked".
///
/// All methods are safe to call from several threads: one lock serialises use of the
/// connection, and a transaction holds it for its whole body.
///
/// ```swift
/// let db = try SQLiteDatabase(path: "/tmp/x.sqlite")
/// try db.execute("CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT)")
/// let id = try db.writeTransaction {
///     try db.run("INSERT INTO notes(body) VALUES (?)", ["hello"])
///     return db.lastInsertRowID
/// }
/// let bodies = try db.query("SELECT body FROM notes WHERE id = ?", [id]) { $0.text(0) }
/// ```
public final class SQLiteDatabase {
    /// How a connection waits for locks held by other connections.
    public struct Options {
        /// How long sqlite itself waits for a lock before returning SQLITE_BUSY.
        public var busyTimeoutMilliseconds: Int32 = 5_000
        /// How long, in total, a transaction keeps retrying after SQLITE_BUSY / SQLITE_LOCKED.
        public var retryBudgetSeconds: Double = 120
        /// The first backoff pause after a busy error; it doubles up to ``maxBackoffSeconds``.
        public var initialBackoffSeconds: Double = 0.005
        /// The longest single backoff pause.
        public var maxBackoffSeconds: Double = 0.5
        /// Opens the file read-only (it must exist) with `PRAGMA query_only`: nothing this
        /// connection runs can change the database, and its journal mode is left as it is.
        public var readOnly = false

        public init() {}
    }

    /// The database file.
    public let path: String
    let handle: OpaquePointer
    private let options: Options
    private let lock = NSRecursiveLock()
    private var statementCache: [String: SQLiteStatement] = [:]
    private var transactionDepth = 0

    /// Opens (creating if needed) the database at `path` and configures it.
    ///
    /// Throws ``SQLiteError`` when the file cannot be opened, and ``SQLiteSetupError`` when
    /// WAL cannot be turned on (for example on a filesystem without shared memory).
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        self.options = options
        var connection: OpaquePointer?
        let flags =
            (options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_FULLMUTEX
        let code = sqlite3_open_v2(path, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            let error = SQLiteError(code: code, connection: connection, sql: nil, path: path)
            sqlite3_close_v2(connection)
            throw error
        }
        handle = connection
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, options.busyTimeoutMilliseconds)
        do {
            try configure()
        } catch {
            sqlite3_close_v2(handle)
            throw error
        }
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    private func configure() throws {
        if options.readOnly {
            try execute("PRAGMA query_only = ON")
            return
        }
        try execute("PRAGMA foreign_keys = ON")
        let current = try query("PRAGMA journal_mode") { $0.text(0) }.first ?? ""
        if current.lowercased() != "wal" {
            let mode = try query("PRAGMA journal_mode = WAL") { $0.text(0) }.first ?? ""
            guard mode.lowercased() == "wal" else {
                throw SQLiteSetupError(
                    path: path,
                    problem: "could not switch the journal to WAL (sqlite kept '\(mode)')",
                    advice: "put the database on a local filesystem (set MIXMAE_HOME)")
            }
        }
        try execute("PRAGMA synchronous = NORMAL")
    }

    // MARK: Running SQL

    /// Runs one or more `;`-separated statements that take no parameters (DDL, pragmas).
    public func execute(_ sql: String) throws {
        try locked { try retryingOutsideTransaction { try executeOnce(sql) } }
    }

    private func executeOnce(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        if code != SQLITE_OK {
            sqlite3_free(message)
            throw error(code, sql: sql)
        }
    }

    /// Prepares a statement that the caller keeps and reuses.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        try locked { try SQLiteStatement(database: self, sql: sql) }
    }

    /// Runs a statement that returns no rows, with `values` bound to its parameters.
    /// The prepared statement is cached by its SQL text.
    public func run(_ sql: String, _ values: [SQLiteBindable] = []) throws {
        try locked {
            try retryingOutsideTransaction {
                let statement = try cachedStatement(sql)
                try statement.bind(values)
                try statement.stepToEnd()
            }
        }
    }

    /// Runs a query and maps each row with `transform`.
    public func query<T>(
        _ sql: String, _ values: [SQLiteBindable] = [], _ transform: (SQLiteRow) throws -> T
    ) throws -> [T] {
        try locked {
            try retryingOutsideTransaction {
                let statement = try cachedStatement(sql)
                try statement.bind(values)
                defer { statement.reset() }
                var rows: [T] = []
                while try statement.step() {
                    rows.append(try transform(statement.row))
                }
                return rows
            }
        }
    }

    /// Runs a query and maps its first row, or returns nil when there is none.
    public func queryFirst<T>(
        _ sql: String, _ values: [SQLiteBindable] = [], _ transform: (SQLiteRow) throws -> T
    ) throws -> T? {
        try query(sql, values, transform).first
    }

    /// The rowid of the last row inserted on this connection.
    public var lastInsertRowID: Int64 {
        locked { sqlite3_last_insert_rowid(handle) }
    }

    /// How many rows the last INSERT, UPDATE or DELETE changed.
    public var changes: Int {
        locked { Int(sqlite3_changes(handle)) }
    }

    /// `PRAGMA user_version`: the schema version the application stored.
    public func userVersion() throws -> Int {
        try query("PRAGMA user_version") { $0.int(0) }.first ?? 0
    }

    /// Sets `PRAGMA user_version`.
    public func setUserVersion(_ version: Int) throws {
        try execute("PRAGMA user_version = \(version)")
    }

    // MARK: Transactions

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE ... COMMIT`).
    ///
    /// The write lock is taken before `body` runs, so a transaction never fails half-way
    /// because another process started writing. When the lock stays busy past the busy
    /// timeout, the whole transaction is rolled back and retried with backoff until
    /// ``Options/retryBudgetSeconds`` is spent, so `body` may run more than once: keep side
    /// effects other than database writes out of it. Any other error rolls back and is
    /// rethrown. Nested calls join the outer transaction.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// Runs `body` in a read transaction (`BEGIN DEFERRED`), so its queries see one snapshot.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try transaction(begin: "BEGIN DEFERRED", body)
    }

    private func transaction<T>(begin: String, _ body: () throws -> T) throws -> T {
        try locked {
            if transactionDepth > 0 {
                return try body()
            }
            return try withBusyRetry {
                try executeOnce(begin)
                transactionDepth += 1
                do {
                    let result = try body()
                    try executeOnce("COMMIT")
                    transactionDepth -= 1
                    return result
                } catch {
                    transactionDepth -= 1
                    if sqlite3_get_autocommit(handle) == 0 {
                        _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
                    }
                    throw error
                }
            }
        }
    }

    /// Retries a lone statement (autocommit) on busy errors; inside a transaction, busy
    /// errors propagate so the whole transaction is retried.
    private func retryingOutsideTransaction<T>(_ operation: () throws -> T) throws -> T {
        transactionDepth > 0 ? try operation() : try withBusyRetry(operation)
    }

    /// Calls `operation`, retrying it after SQLITE_BUSY / SQLITE_LOCKED with jittered
    /// exponential backoff until the retry budget is spent.
    private func withBusyRetry<T>(_ operation: () throws -> T) throws -> T {
        let start = Date()
        var pause = options.initialBackoffSeconds
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try operation()
            } catch let error as SQLiteError where error.isBusy {
                let elapsed = Date().timeIntervalSince(start)
                if elapsed >= options.retryBudgetSeconds {
                    throw SQLiteBusyTimeout(
                        path: path, attempts: attempts, seconds: elapsed, lastError: error)
                }
                let jittered = pause * Double.random(in: 0.5...1.5)
                Thread.sleep(forTimeInterval: min(jittered, options.retryBudgetSeconds - elapsed))
                pause = min(pause * 2, options.maxBackoffSeconds)
            }
        }
    }

    // MARK: Internals

    private func cachedStatement(_ sql: String) throws -> SQLiteStatement {
        if let statement = statementCache[sql] { return statement }
        let statement = try SQLiteStatement(database: self, sql: sql)
        statementCache[sql] = statement
        return statement
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code, connection: handle, sql: sql, path: path)
    }
}

/// A database opened but could not be configured as the registry needs.
public struct SQLiteSetupError: UserFacingError {
    /// The database file.
    public let path: String
    /// What went wrong.
    public let problem: String
    /// What to do about it.
    public let advice: String

    public var what: String { problem }
    public var location: ErrorLocation? { .file(path) }
    public var hint: String? { advice }
}
