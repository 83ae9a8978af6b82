import CSQLite
import Foundation
import SACommon

private let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One sqlite3 connection: prepared statements (cached by text) with bound parameters only.
public final class SQLiteDatabase: SQLExecutor {
    public let dialect = SQLDialect.sqlite
    public var location: String { path }
    public var isUsable: Bool { true }
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
            let code: SAError.Code = rc == SQLITE_CANTOPEN ? (create ? .databaseUncreatable : .notFound) : .io
            throw SAError(code, "cannot open database \(path): \(msg)")
        }
        handle = db
        sqlite3_busy_timeout(db, 10_000)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        for s in cache.values { sqlite3_finalize(s) }
        sqlite3_close_v2(handle)
    }

    func error(_ what: String, _ rc: Int32) -> SAError {
        let msg = String(cString: sqlite3_errmsg(handle))
        let primary = rc & 0xff
        let code: SAError.Code
        switch primary {
        case SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN: code = .io
        case SQLITE_BUSY, SQLITE_LOCKED: code = .busy
        case SQLITE_CORRUPT, SQLITE_NOTADB: code = .corruptStorage
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_AUTH: code = .deniedStorage
        default: code = .storageFault
        }
        let full = primary == SQLITE_FULL ? "disk full" : msg
        return SAError(code, "\(what) in \(path): \(full)")
    }

    public func script(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            sqlite3_free(err)
            throw error("SQL failed", rc)
        }
    }

    /// Prepared statements by their text; one in use is taken out, so a nested use of the same
    /// text prepares its own.
    private var cache: [String: OpaquePointer] = [:]

    private func statement(_ sql: String) throws -> OpaquePointer {
        if let s = cache.removeValue(forKey: sql) { return s }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, SQLiteDatabase.sqliteParameters(sql), -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error("cannot prepare statement", rc) }
        return stmt
    }

    /// `$1` → `?1`: the one statement text serves both backends.
    public static func sqliteParameters(_ sql: String) -> String {
        guard sql.contains("$") else { return sql }
        var out = ""
        var previous: Character = " "
        for c in sql {
            if previous == "$" {
                out.removeLast()
                out.append(c.isNumber ? "?" : "$")
            }
            out.append(c)
            previous = c
        }
        return out
    }

    public func query(_ sql: String, _ params: [SQLValue], _ row: (any SQLRow) throws -> Void) throws {
        let stmt = try statement(sql)
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
            if cache[sql] == nil { cache[sql] = stmt } else { sqlite3_finalize(stmt) }
        }
        for (i, p) in params.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch p {
            case .null: rc = sqlite3_bind_null(stmt, idx)
            case .int(let v): rc = sqlite3_bind_int64(stmt, idx, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, idx, v, -1, SQLITE_TRANSIENT)
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob64(stmt, idx, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), sqlite3_uint64(v.count), SQLITE_TRANSIENT) }
            }
            guard rc == SQLITE_OK else { throw error("cannot bind parameter \(idx)", rc) }
        }
        let cursor = SQLiteRow(stmt: stmt)
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error("statement failed", rc) }
            try row(cursor)
        }
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    public func bulkInsert(table: String, columns: [String], rows: Int, _ row: (Int) -> [SQLValue]) throws {
        let sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\((1...columns.count).map { "$\($0)" }.joined(separator: ", ")))"
        for i in 0..<rows { try run(sql, row(i)) }
    }

    public func tableExists(_ name: String) throws -> Bool {
        try first("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1", [.text(name)]) { $0.int(0) } == 1
    }

    public func reclaimSpace() throws {
        try script("PRAGMA incremental_vacuum")
        try script("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// The sync lock of a SQLite store: `flock` on `.<name>.sync.lock` beside the database.
    private var syncLock: FileLock?

    public func tryLockSync() throws -> Bool {
        guard let lock = try FileLock.tryAcquire(LockName.sync(database: path)) else { return false }
        syncLock = lock
        return true
    }

    public func unlockSync() {
        syncLock?.release()
        syncLock = nil
    }
}

private struct SQLiteRow: SQLRow {
    let stmt: OpaquePointer

    func int(_ c: Int) -> Int64 { sqlite3_column_int64(stmt, Int32(c)) }
    func optionalInt(_ c: Int) -> Int64? {
        sqlite3_column_type(stmt, Int32(c)) == SQLITE_NULL ? nil : sqlite3_column_int64(stmt, Int32(c))
    }
    func text(_ c: Int) -> String? {
        guard let p = sqlite3_column_text(stmt, Int32(c)) else { return nil }
        return String(cString: p)
    }
    func blob(_ c: Int) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, Int32(c)))
        guard n > 0, let p = sqlite3_column_blob(stmt, Int32(c)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
    func bool(_ c: Int) -> Bool { int(c) != 0 }
}
