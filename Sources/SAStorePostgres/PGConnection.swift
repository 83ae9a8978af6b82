import CPQ
import Foundation
import SACommon
import SAStore

/// One libpq connection. Values always travel as bound parameters; identifiers are validated
/// by the caller and quoted with `quoteIdentifier`.
public final class PGConnection: SQLExecutor {
    public let dialect = SQLDialect.postgres
    public var location: String { url.display }
    public var isUsable: Bool { PQstatus(conn) == CONNECTION_OK }
    let conn: OpaquePointer
    public let url: PostgresURL

    public init(url: PostgresURL, password: String?, applicationName: String = "save_audio_stream") throws {
        self.url = url
        var keys = ["host", "port", "dbname", "connect_timeout", "application_name"]
        var values = [url.host, String(url.port), url.database ?? "postgres", "10", applicationName]
        if let u = url.user { keys.append("user"); values.append(u) }
        if let password { keys.append("password"); values.append(password) }
        for (k, v) in url.options { keys.append(k); values.append(v) }
        let c = withCStrings(keys) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 0) } }
        guard let c else { throw SAError(.internalError, "out of memory connecting to PostgreSQL") }
        conn = c
        if PQstatus(c) != CONNECTION_OK {
            // `deinit` runs when a fully initialised object's init throws: it finishes `c`, so
            // finishing it here as well would free it twice.
            let msg = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
            let auth = msg.contains("password authentication failed") || msg.contains("no password supplied")
                || msg.contains("permission denied")
            if msg.contains("database \"") && msg.contains("\" does not exist") {
                // The server answered: this database is not there (a show never pulled yet).
                throw SAError(.notFound, "\(url.display) does not exist: \(msg)")
            }
            throw SAError(auth ? .auth : .unavailable,
                          "cannot connect to \(url.display): \(msg)")
        }
        _ = try? script("SET client_min_messages = warning")
    }

    deinit { PQfinish(conn) }

    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private func failure(_ what: String, _ res: OpaquePointer?) -> SAError {
        let msg = String(cString: res.map { PQresultErrorMessage($0) } ?? PQerrorMessage(conn))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let state = res.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        if PQstatus(conn) != CONNECTION_OK {
            return SAError(.unavailable, "\(what): connection to \(url.display) lost: \(msg)")
        }
        if state == "42501" { return SAError(.auth, "\(what) on \(url.display): \(msg)") }
        if state.hasPrefix("53") { return SAError(.io, "\(what) on \(url.display): \(msg)") }
        return SAError(.database, "\(what) on \(url.display): \(msg) (SQLSTATE \(state))")
    }

    /// Runs one statement without parameters (DDL, session settings), text results ignored.
    public func script(_ sql: String) throws {
        let res = PQexec(conn, sql)
        defer { PQclear(res) }
        let status = res.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure("query failed", res) }
    }

    /// One statement, parameters as text (bytes as binary), results in binary: one round
    /// trip, no text parsing of numbers and no escaping of audio.
    public func query(_ sql: String, _ params: [SQLValue], _ row: (any SQLRow) throws -> Void) throws {
        var texts: [String?] = []
        var blobs: [Int: [UInt8]] = [:]
        for (i, p) in params.enumerated() {
            switch p {
            case .null: texts.append(nil)
            case .int(let v): texts.append(String(v))
            case .text(let v): texts.append(v)
            case .blob(let v):
                texts.append(nil)
                blobs[i] = v
            }
        }
        let res: OpaquePointer? = withOptionalCStrings(texts) { t in
            var values: [UnsafePointer<CChar>?] = (0..<params.count).map { t[$0] }
            var lengths = [Int32](repeating: 0, count: max(params.count, 1))
            var formats = [Int32](repeating: 0, count: max(params.count, 1))
            var held: [UnsafeMutableRawPointer] = []
            defer { for p in held { free(p) } }
            for (i, b) in blobs {
                let p = malloc(max(b.count, 1))!
                b.withUnsafeBytes { if let base = $0.baseAddress { p.copyMemory(from: base, byteCount: b.count) } }
                held.append(p)
                values[i] = UnsafePointer(p.assumingMemoryBound(to: CChar.self))
                lengths[i] = Int32(b.count)
                formats[i] = 1
            }
            return PQexecParams(conn, sql, Int32(params.count), nil, values, lengths, formats, 1)
        }
        defer { PQclear(res) }
        let status = res.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure("query failed", res) }
        guard status == PGRES_TUPLES_OK, let res else { return }
        var cursor = PGRow(res: res, row: 0)
        for r in 0..<PQntuples(res) {
            cursor.row = r
            try row(cursor)
        }
    }

    /// Column types by table, for COPY's binary fields (an int4 column takes 4 bytes, not 8).
    private var columnTypes: [String: [String: UInt32]] = [:]

    /// `COPY table (columns) FROM STDIN (FORMAT binary)`.
    public func bulkInsert(table: String, columns: [String], rows: Int, _ row: (Int) -> [SQLValue]) throws {
        if columnTypes[table] == nil {
            var types: [String: UInt32] = [:]
            try query("SELECT attname::text, atttypid::int8 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0",
                      [.text(table)]) { types[$0.text(0) ?? ""] = UInt32($0.int(1)) }
            columnTypes[table] = types
        }
        let types = columnTypes[table] ?? [:]
        let widths = columns.map { types[$0] == PGType.int4 ? 4 : types[$0] == PGType.int2 ? 2 : 8 }
        let sql = "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
        let res = PQexec(conn, sql)
        if res.map(PQresultStatus) != PGRES_COPY_IN {
            defer { PQclear(res) }
            throw failure("COPY failed", res)
        }
        PQclear(res)
        var buf = PGCopyBuffer()
        for i in 0..<rows {
            let values = row(i)
            buf.tuple(fields: Int16(values.count))
            for (c, v) in values.enumerated() {
                switch v {
                case .null: buf.null()
                case .int(let n): buf.int(n, width: widths[c])
                case .text(let t): buf.text(t)
                case .blob(let b): buf.bytea(b)
                }
            }
        }
        buf.finish()
        let sent = buf.bytes.withUnsafeBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { PQputCopyData(conn, $0, Int32(p.count)) }
        }
        guard sent == 1, PQputCopyEnd(conn, nil) == 1 else { throw failure("COPY data failed", nil) }
        while let r = PQgetResult(conn) {
            defer { PQclear(r) }
            if PQresultStatus(r) != PGRES_COMMAND_OK { throw failure("COPY failed", r) }
        }
    }

    public func tableExists(_ name: String) throws -> Bool {
        try first("SELECT to_regclass('public.' || $1::text) IS NOT NULL", [.text(name)]) { $0.bool(0) } ?? false
    }

    public func reclaimSpace() throws { try script("VACUUM segments") }

    private static let syncLockKey = 7_283_001

    public func tryLockSync() throws -> Bool {
        try first("SELECT pg_try_advisory_lock(\(PGConnection.syncLockKey))", []) { $0.bool(0) } ?? false
    }

    public func unlockSync() {
        _ = try? script("SELECT pg_advisory_unlock(\(PGConnection.syncLockKey))")
    }
}

/// Type OIDs of the binary results this toolkit reads.
enum PGType {
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let int8: UInt32 = 20
    static let int2: UInt32 = 21
    static let int4: UInt32 = 23
    static let oid: UInt32 = 26
    static let numeric: UInt32 = 1700
}

/// A row of a binary result: integers big-endian by width, `numeric` (what `sum` gives) read
/// from its base-10000 digits, text and bytea as their bytes.
private struct PGRow: SQLRow {
    let res: OpaquePointer
    var row: Int32

    private func bytes(_ c: Int) -> UnsafeRawBufferPointer? {
        guard PQgetisnull(res, row, Int32(c)) == 0, let p = PQgetvalue(res, row, Int32(c)) else { return nil }
        return UnsafeRawBufferPointer(start: p, count: Int(PQgetlength(res, row, Int32(c))))
    }

    private func be(_ b: UnsafeRawBufferPointer, _ at: Int, _ n: Int) -> Int64 {
        var v: UInt64 = 0
        for i in at..<(at + n) { v = v << 8 | UInt64(b[i]) }
        // Sign-extend from n bytes.
        let shift = UInt64(64 - 8 * n)
        return Int64(bitPattern: v << shift) >> Int64(shift)
    }

    func optionalInt(_ c: Int) -> Int64? {
        guard let b = bytes(c) else { return nil }
        switch PQftype(res, Int32(c)) {
        case PGType.numeric:
            // ndigits, weight, sign, dscale (int16 each), then ndigits base-10000 digits.
            guard b.count >= 8 else { return 0 }
            let ndigits = Int(be(b, 0, 2)), weight = Int(be(b, 2, 2)), sign = be(b, 4, 2)
            var v: Int64 = 0
            for i in 0...max(weight, 0) where weight >= 0 {
                let d = i < ndigits && 8 + 2 * i + 2 <= b.count ? be(b, 8 + 2 * i, 2) : 0
                v = v * 10000 + d
            }
            return sign == 0x4000 ? -v : v
        case PGType.bool:
            return b.first.map { $0 != 0 ? 1 : 0 }
        case PGType.int2, PGType.int4, PGType.int8, PGType.oid:
            return be(b, 0, b.count)
        default:
            return Int64(String(decoding: b, as: UTF8.self))
        }
    }

    func int(_ c: Int) -> Int64 { optionalInt(c) ?? 0 }
    func text(_ c: Int) -> String? { bytes(c).map { String(decoding: $0, as: UTF8.self) } }
    func blob(_ c: Int) -> [UInt8] { bytes(c).map { Array($0) } ?? [] }
    func bool(_ c: Int) -> Bool { int(c) != 0 }
}

/// The PostgreSQL binary COPY format: header, tuples of big-endian fields, trailer.
public struct PGCopyBuffer {
    public private(set) var bytes: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]

    public mutating func tuple(fields: Int16) { appendBE(UInt16(bitPattern: fields)) }
    /// An integer field of `width` bytes (2, 4 or 8: the column's type).
    public mutating func int(_ v: Int64, width: Int) {
        appendBE(UInt32(width))
        switch width {
        case 2: appendBE(UInt16(truncatingIfNeeded: v))
        case 4: appendBE(UInt32(truncatingIfNeeded: v))
        default: appendBE(UInt64(bitPattern: v))
        }
    }
    public mutating func null() { appendBE(UInt32.max) }  // length -1: NULL
    public mutating func bytea(_ v: [UInt8]) {
        appendBE(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
    public mutating func text(_ v: String?) {
        guard let v else { return appendBE(UInt32.max) }  // -1: NULL
        let u = Array(v.utf8)
        appendBE(UInt32(u.count))
        bytes.append(contentsOf: u)
    }
    mutating func finish() { appendBE(UInt16(0xFFFF)) }

    private mutating func appendBE<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var cs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    cs.append(nil)
    defer { for p in cs { free(p) } }
    return cs.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { body($0) }
    }
}

func withOptionalCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var cs: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } ?? nil }
    cs.append(nil)  // never empty, so there is always a base address
    defer { for p in cs { free(p) } }
    return cs.withUnsafeBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buf.count) { body($0) }
    }
}
