import Foundation

/// A value bound to a statement parameter.
public enum SQLValue: Equatable, Sendable {
    case null
    case int(Int64)
    case text(String)
    case blob([UInt8])
}

/// One result row, read by column index while the statement is positioned on it.
public protocol SQLRow {
    /// The column as an integer; 0 for NULL.
    func int(_ column: Int) -> Int64
    /// The column as an integer, nil for NULL.
    func optionalInt(_ column: Int) -> Int64?
    /// The column as text, nil for NULL.
    func text(_ column: Int) -> String?
    /// The column's bytes (copied out); empty for NULL.
    func blob(_ column: Int) -> [UInt8]
    /// A boolean column (PostgreSQL `bool`, or an integer that is not 0).
    func bool(_ column: Int) -> Bool
}

/// Which SQL the database speaks, for the few statements whose text must differ.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres
}

/// What `ShowDB` needs from a connection: one statement text for both backends, written with
/// numbered parameters (`$1`, `$2`, …; SQLite is handed `?1`, `?2`, …), plus the handful of
/// operations whose backends have no shared SQL (bulk load, space reclaim, a sync lock).
public protocol SQLExecutor: AnyObject {
    var dialect: SQLDialect { get }
    /// What `db` fields carry: a file path, or a URL without password.
    var location: String { get }
    /// False once the connection is known to be dead (the server went away); never reused then.
    var isUsable: Bool { get }
    /// Runs several statements without parameters (migrations, pragmas).
    func script(_ sql: String) throws
    /// Runs one statement; `row` sees each result row in turn.
    func query(_ sql: String, _ params: [SQLValue], _ row: (any SQLRow) throws -> Void) throws
    /// Appends rows to `table` (inside the caller's transaction): COPY on PostgreSQL, one
    /// prepared INSERT on SQLite.
    func bulkInsert(table: String, columns: [String], rows: Int, _ row: (Int) -> [SQLValue]) throws
    func tableExists(_ name: String) throws -> Bool
    /// Gives space freed by deletions back to the file system.
    func reclaimSpace() throws
    /// Takes the per-show sync lock without waiting; false when another process holds it.
    /// Released by `unlockSync`, or when the process (or connection) ends.
    func tryLockSync() throws -> Bool
    func unlockSync()
}

extension SQLExecutor {
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so two writers wait for each
    /// other instead of failing halfway.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try script(dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let result = try body()
            try script("COMMIT")
            return result
        } catch {
            try? script("ROLLBACK")
            throw error
        }
    }

    public func run(_ sql: String, _ params: [SQLValue] = []) throws {
        try query(sql, params) { _ in }
    }

    /// Every row, each turned into a value by `map`.
    public func rows<T>(_ sql: String, _ params: [SQLValue] = [], _ map: (any SQLRow) throws -> T) throws -> [T] {
        var out: [T] = []
        try query(sql, params) { out.append(try map($0)) }
        return out
    }

    /// The first row turned into a value, nil without rows.
    public func first<T>(_ sql: String, _ params: [SQLValue] = [], _ map: (any SQLRow) throws -> T) throws -> T? {
        var out: T?
        try query(sql, params) { r in if out == nil { out = try map(r) } }
        return out
    }
}
