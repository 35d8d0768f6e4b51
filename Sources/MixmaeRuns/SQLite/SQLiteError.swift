import CSQLite
import Foundation
import MixmaeSupport

/// An error reported by libsqlite3, with the statement that caused it.
///
/// Its description names the database file, sqlite's message and result code, and the SQL:
/// `sqlite error 19 (constraint failed) in /tmp/x/registry.sqlite: UNIQUE constraint failed:
/// tags.run_id, tags.key; while running: INSERT INTO tags ...`
public struct SQLiteError: UserFacingError {
    /// The primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public let code: Int32
    /// The extended result code (`SQLITE_BUSY_SNAPSHOT`, `SQLITE_CONSTRAINT_UNIQUE`, ...).
    public let extendedCode: Int32
    /// sqlite's own message (`sqlite3_errmsg`).
    public let message: String
    /// The SQL being prepared or run, if any.
    public let sql: String?
    /// The database file.
    public let path: String

    /// True for the transient lock errors that a retry can cure.
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }

    public var what: String {
        let name = String(cString: sqlite3_errstr(code))
        var text = "sqlite error \(extendedCode) (\(name)) in \(path): \(message)"
        if let sql {
            let oneLine = sql.split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .joined(separator: " ")
            text += "; while running: \(oneLine)"
        }
        return text
    }

    init(code: Int32, connection: OpaquePointer?, sql: String?, path: String) {
        self.code = code & 0xff
        if let connection {
            self.extendedCode = sqlite3_extended_errcode(connection)
            self.message = String(cString: sqlite3_errmsg(connection))
        } else {
            self.extendedCode = code
            self.message = String(cString: sqlite3_errstr(code))
        }
        self.sql = sql
        self.path = path
    }
}

/// The database could not take a write lock within the retry budget.
public struct SQLiteBusyTimeout: UserFacingError {
    /// The database file.
    public let path: String
    /// How many times the transaction was tried.
    public let attempts: Int
    /// How long the attempts took in total, in seconds.
    public let seconds: Double
    /// The last busy error.
    public let lastError: SQLiteError

    public var what: String {
        "the database \(path) stayed locked by other processes for "
            + "\(String(format: "%.1f", seconds)) s (\(attempts) attempts)"
    }

    public var hint: String? { "is a process holding a long transaction? last error: \(lastError)" }
}
