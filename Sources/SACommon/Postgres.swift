import CPQ
import Foundation

/// A PostgreSQL server URL without password: `postgres://user@host:5432/dbname?sslmode=…`.
public struct PostgresURL: Sendable, Equatable {
    public var user: String?
    public var host: String
    public var port: Int
    public var database: String?
    public var options: [(String, String)]

    public static func == (a: PostgresURL, b: PostgresURL) -> Bool {
        a.user == b.user && a.host == b.host && a.port == b.port && a.database == b.database
    }

    public init(parsing text: String) throws {
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw SAError.config("database url '\(text)' is not a postgres://user@host:port/database URL")
        }
        if c.password != nil {
            throw SAError.config("database url must not contain a password; put it in credentials ([postgres.<profile>] password)")
        }
        user = c.user
        host = c.host ?? "localhost"
        port = c.port ?? 5432
        let path = c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        database = path.isEmpty ? nil : path
        options = (c.queryItems ?? []).compactMap { q in q.value.map { (q.name, $0) } }
    }

    /// The same server, another database; what `db` fields in JSON lines carry.
    public func with(database: String) -> PostgresURL {
        var u = self
        u.database = database
        return u
    }

    public var display: String {
        "postgres://\(user.map { "\($0)@" } ?? "")\(host):\(port)/\(database ?? "")"
    }
}

/// One libpq connection. Values always travel as bound parameters; identifiers are validated
/// by the caller and quoted with `quoteIdentifier`.
public final class PGConnection {
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
        guard let c else { throw SAError(.software, code: "internal", "out of memory connecting to PostgreSQL") }
        conn = c
        if PQstatus(c) != CONNECTION_OK {
            // `deinit` runs when a fully initialised object's init throws: it finishes `c`, so
            // finishing it here as well would free it twice.
            let msg = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
            let auth = msg.contains("password authentication failed") || msg.contains("no password supplied")
                || msg.contains("permission denied")
            if msg.contains("database \"") && msg.contains("\" does not exist") {
                // The server answered: this database is not there (a show never pulled yet).
                throw SAError(.noInput, code: "not_found", "\(url.display) does not exist: \(msg)")
            }
            throw SAError(auth ? .noPermission : .unavailable, code: auth ? "auth" : "unavailable",
                          "cannot connect to \(url.display): \(msg)")
        }
        _ = try? exec("SET client_min_messages = warning")
    }

    deinit { PQfinish(conn) }

    /// False once the server went away (restart, network); such a connection is dropped, never reused.
    public var isAlive: Bool { PQstatus(conn) == CONNECTION_OK }

    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private func failure(_ what: String, _ res: OpaquePointer?) -> SAError {
        let msg = String(cString: res.map { PQresultErrorMessage($0) } ?? PQerrorMessage(conn))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let state = res.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        if PQstatus(conn) != CONNECTION_OK {
            return SAError(.unavailable, code: "unavailable", "\(what): connection to \(url.display) lost: \(msg)")
        }
        if state == "42501" { return SAError(.noPermission, code: "auth", "\(what) on \(url.display): \(msg)") }
        if state.hasPrefix("53") { return SAError(.ioError, code: "io", "\(what) on \(url.display): \(msg)") }
        return SAError(.software, code: "db", "\(what) on \(url.display): \(msg) (SQLSTATE \(state))")
    }

    /// Runs one statement with text parameters; returns the rows as text (nil for NULL).
    @discardableResult
    public func exec(_ sql: String, _ params: [String?] = []) throws -> [[String?]] {
        let res: OpaquePointer?
        if params.isEmpty {
            res = PQexec(conn, sql)
        } else {
            res = withOptionalCStrings(params) { p in
                PQexecParams(conn, sql, Int32(params.count), nil, p, nil, nil, 0)
            }
        }
        defer { PQclear(res) }
        let status = res.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure("query failed", res) }
        guard status == PGRES_TUPLES_OK, let res else { return [] }
        let rows = Int(PQntuples(res)), cols = Int(PQnfields(res))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            for c in 0..<cols {
                if PQgetisnull(res, Int32(r), Int32(c)) != 0 { row.append(nil) } else {
                    row.append(String(cString: PQgetvalue(res, Int32(r), Int32(c))))
                }
            }
            out.append(row)
        }
        return out
    }

    /// Runs a query whose single column is binary (bytea), returned raw; used for audio.
    public func binaryColumn(_ sql: String, _ params: [String?]) throws -> [[UInt8]] {
        let res = withOptionalCStrings(params) { p in PQexecParams(conn, sql, Int32(params.count), nil, p, nil, nil, 1) }
        defer { PQclear(res) }
        guard let res, PQresultStatus(res) == PGRES_TUPLES_OK else { throw failure("query failed", res) }
        return (0..<PQntuples(res)).map { r in
            let n = Int(PQgetlength(res, r, 0))
            let p = PQgetvalue(res, r, 0)!
            return Array(UnsafeRawBufferPointer(start: p, count: n).bindMemory(to: UInt8.self))
        }
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try exec("BEGIN")
        do {
            let v = try body()
            try exec("COMMIT")
            return v
        } catch {
            _ = try? exec("ROLLBACK")
            throw error
        }
    }

    /// `COPY table (columns) FROM STDIN (FORMAT binary)` with a body built by `write`.
    public func copyBinary(table: String, columns: [String], write: (inout PGCopyBuffer) -> Void) throws {
        let sql = "COPY \(table) (\(columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
        let res = PQexec(conn, sql)
        let ok = res.map(PQresultStatus) == PGRES_COPY_IN
        if !ok {
            defer { PQclear(res) }
            throw failure("COPY failed", res)
        }
        PQclear(res)
        var buf = PGCopyBuffer()
        write(&buf)
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
}

/// The PostgreSQL binary COPY format: header, tuples of big-endian fields, trailer.
public struct PGCopyBuffer {
    public private(set) var bytes: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]

    public mutating func tuple(fields: Int16) { appendBE(UInt16(bitPattern: fields)) }
    public mutating func int64(_ v: Int64) {
        appendBE(UInt32(8))
        appendBE(UInt64(bitPattern: v))
    }
    public mutating func int32(_ v: Int32) {
        appendBE(UInt32(4))
        appendBE(UInt32(bitPattern: v))
    }
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
