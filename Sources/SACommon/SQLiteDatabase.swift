import CSQLite
import Foundation

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A thin wrapper over one sqlite3 connection: prepared statements with bound parameters only.
public final class SQLiteDatabase {
    public let path: String
    let handle: OpaquePointer

    /// `readOnly` never writes: when the file is writable it is opened read-write with
    /// `query_only`, so the last connection to close removes the `-wal` and `-shm` files a
    /// read-only connection would leave behind (a refusal leaves no trace); otherwise read-only.
    public init(path: String, readOnly: Bool = false, create: Bool = true) throws {
        self.path = path
        var db: OpaquePointer?
        if readOnly, access(path, W_OK) == 0, access((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, W_OK) == 0,
           sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let opened = db,
           sqlite3_exec(opened, "PRAGMA query_only = 1", nil, nil, nil) == SQLITE_OK {
            handle = opened
            sqlite3_busy_timeout(opened, 10_000)
            sqlite3_extended_result_codes(opened, 1)
            return
        }
        if db != nil {
            sqlite3_close(db)
            db = nil
        }
        var flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        flags |= SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            let status: ExitStatus = rc == SQLITE_CANTOPEN ? (create ? .cantCreate : .noInput) : .ioError
            throw SAError(status, code: rc == SQLITE_CANTOPEN ? "not_found" : "io", "cannot open database \(path): \(msg)")
        }
        handle = db
        sqlite3_busy_timeout(db, 10_000)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ what: String, _ rc: Int32) -> SAError {
        let msg = String(cString: sqlite3_errmsg(handle))
        let primary = rc & 0xff
        let status: ExitStatus
        switch primary {
        case SQLITE_FULL: status = .ioError
        case SQLITE_BUSY, SQLITE_LOCKED: status = .tempFail
        case SQLITE_CORRUPT, SQLITE_NOTADB: status = .dataError
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH: status = .noPermission
        case SQLITE_IOERR, SQLITE_CANTOPEN: status = .ioError
        default: status = .software
        }
        let full = primary == SQLITE_FULL ? "disk full" : msg
        return SAError(status, code: "io", "\(what) in \(path): \(full)")
    }

    public func execute(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            sqlite3_free(err)
            throw error("SQL failed", rc)
        }
    }

    public func prepare(_ sql: String) throws -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error("cannot prepare statement", rc) }
        return SQLiteStatement(db: self, stmt: stmt)
    }

    /// Runs a statement with parameters; returns nothing.
    public func run(_ sql: String, _ params: [SQLiteValue] = []) throws {
        let s = try prepare(sql)
        try s.bind(params)
        while try s.step() {}
    }

    /// The first column of the first row, if any.
    public func scalar(_ sql: String, _ params: [SQLiteValue] = []) throws -> SQLiteValue? {
        let s = try prepare(sql)
        try s.bind(params)
        guard try s.step() else { return nil }
        return s.value(0)
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}

public enum SQLiteValue: Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])

    public var int: Int64? {
        switch self {
        case .int(let i): return i
        case .text(let t): return Int64(t)
        default: return nil
        }
    }

    public var text: String? {
        switch self {
        case .text(let t): return t
        case .int(let i): return String(i)
        default: return nil
        }
    }
}

public final class SQLiteStatement {
    let db: SQLiteDatabase
    let stmt: OpaquePointer

    init(db: SQLiteDatabase, stmt: OpaquePointer) {
        self.db = db
        self.stmt = stmt
    }

    deinit { sqlite3_finalize(stmt) }

    public func bind(_ params: [SQLiteValue]) throws {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, p) in params.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch p {
            case .null: rc = sqlite3_bind_null(stmt, idx)
            case .int(let v): rc = sqlite3_bind_int64(stmt, idx, v)
            case .double(let v): rc = sqlite3_bind_double(stmt, idx, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, idx, v, -1, SQLITE_TRANSIENT)
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob64(stmt, idx, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(v.count), SQLITE_TRANSIENT) }
            }
            guard rc == SQLITE_OK else { throw db.error("cannot bind parameter \(idx)", rc) }
        }
    }

    /// Advances; true when a row is available.
    public func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw db.error("statement failed", rc)
        }
    }

    public func value(_ col: Int32) -> SQLiteValue {
        switch sqlite3_column_type(stmt, col) {
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(stmt, col))
        case SQLITE_FLOAT: return .double(sqlite3_column_double(stmt, col))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(stmt, col)))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(stmt, col))
            guard n > 0, let p = sqlite3_column_blob(stmt, col) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: p, count: n)))
        default: return .null
        }
    }

    public func int(_ col: Int32) -> Int64 { sqlite3_column_int64(stmt, col) }
    public func text(_ col: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, col) else { return nil }
        return String(cString: p)
    }
}
