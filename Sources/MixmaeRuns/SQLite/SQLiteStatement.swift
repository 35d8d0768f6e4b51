import CSQLite
import Foundation
import MixmaeSupport

/// A prepared statement: bind parameters, step through rows, reset, reuse.
///
/// A statement belongs to the connection that prepared it and is not thread-safe; use it
/// on one thread, typically inside ``SQLiteDatabase/writeTransaction(_:)``.
///
/// ```swift
/// let insert = try db.prepare("INSERT INTO metrics(run_id, step, name, value, time) VALUES (?,?,?,?,?)")
/// for sample in samples {
///     try insert.bind([runID, sample.step, sample.name, sample.value, sample.time])
///     try insert.stepToEnd()
/// }
/// ```
public final class SQLiteStatement {
    let handle: OpaquePointer
    /// The SQL text this statement was prepared from.
    public let sql: String
    private unowned let database: SQLiteDatabase

    init(database: SQLiteDatabase, sql: String) throws {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(database.handle, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw database.error(code, sql: sql)
        }
        self.handle = statement
        self.sql = sql
        self.database = database
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Resets the statement and binds `values` to its parameters `?1, ?2, ...` in order.
    public func bind(_ values: [SQLiteBindable]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard values.count == expected else {
            throw SQLiteBindingCountError(sql: sql, expected: expected, given: values.count)
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value.sqliteValue {
            case .null:
                code = sqlite3_bind_null(handle, index)
            case .integer(let int):
                code = sqlite3_bind_int64(handle, index, int)
            case .real(let double):
                code = sqlite3_bind_double(handle, index, double)
            case .text(let text):
                code = sqlite3_bind_text(handle, index, text, -1, sqliteTransient)
            case .blob(let bytes):
                code = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), sqliteTransient)
                }
            }
            guard code == SQLITE_OK else { throw database.error(code, sql: sql) }
        }
    }

    /// Advances to the next row. Returns false when the statement is done.
    public func step() throws -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(code, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs the statement until it is done, ignoring any rows.
    public func stepToEnd() throws {
        while try step() {}
        sqlite3_reset(handle)
    }

    /// The current row; valid until the next ``step()``.
    public var row: SQLiteRow { SQLiteRow(statement: self) }

    /// Resets the statement so it can run again (bindings are kept).
    public func reset() {
        sqlite3_reset(handle)
    }
}

/// A statement was given the wrong number of parameter values.
public struct SQLiteBindingCountError: UserFacingError {
    /// The statement's SQL.
    public let sql: String
    /// How many parameters the SQL has.
    public let expected: Int
    /// How many values were given.
    public let given: Int

    public var what: String {
        "SQL statement takes \(expected) parameters but \(given) values were bound: \(sql)"
    }
}

/// The columns of the current row of a statement, read by index (0-based).
///
/// ```swift
/// let rows = try db.query("SELECT id, task FROM runs") { row in (row.int64(0), row.text(1)) }
/// ```
public struct SQLiteRow {
    let statement: SQLiteStatement

    /// The number of columns.
    public var count: Int { Int(sqlite3_column_count(statement.handle)) }

    /// True when column `index` is NULL.
    public func isNull(_ index: Int) -> Bool {
        sqlite3_column_type(statement.handle, Int32(index)) == SQLITE_NULL
    }

    /// Column `index` as an integer (NULL reads as 0).
    public func int64(_ index: Int) -> Int64 {
        sqlite3_column_int64(statement.handle, Int32(index))
    }

    /// Column `index` as an Int (NULL reads as 0).
    public func int(_ index: Int) -> Int {
        Int(int64(index))
    }

    /// Column `index` as an integer, or nil when NULL.
    public func optionalInt64(_ index: Int) -> Int64? {
        isNull(index) ? nil : int64(index)
    }

    /// Column `index` as a double (NULL reads as 0).
    public func double(_ index: Int) -> Double {
        sqlite3_column_double(statement.handle, Int32(index))
    }

    /// Column `index` as a double, or nil when NULL.
    public func optionalDouble(_ index: Int) -> Double? {
        isNull(index) ? nil : double(index)
    }

    /// Column `index` as text (NULL reads as "").
    public func text(_ index: Int) -> String {
        guard let pointer = sqlite3_column_text(statement.handle, Int32(index)) else { return "" }
        let length = Int(sqlite3_column_bytes(statement.handle, Int32(index)))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    /// Column `index` as text, or nil when NULL.
    public func optionalText(_ index: Int) -> String? {
        isNull(index) ? nil : text(index)
    }

    /// Column `index` (seconds since 1970) as a date.
    public func date(_ index: Int) -> Date {
        Date(timeIntervalSince1970: double(index))
    }

    /// Column `index` as a date, or nil when NULL.
    public func optionalDate(_ index: Int) -> Date? {
        isNull(index) ? nil : date(index)
    }

    /// Column `index` as a blob.
    public func blob(_ index: Int) -> [UInt8] {
        let length = Int(sqlite3_column_bytes(statement.handle, Int32(index)))
        guard length > 0, let pointer = sqlite3_column_blob(statement.handle, Int32(index)) else {
            return []
        }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }
}

/// `SQLITE_TRANSIENT`: sqlite copies the bound bytes before the call returns.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
