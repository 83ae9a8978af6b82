import Foundation

/// What a sync pass reports per section after it ran.
public struct SectionSummary: Sendable {
    public var id: Int64
    public var startTimestampMs: Int64
    public var segments: Int64
    public var durationSamples: Int64
}

/// A receiver's copy of one show. Implemented over PostgreSQL (one database per show) and
/// over SQLite (the embedded `sqlite:DIR` store).
public protocol ReceiverShowDB: AnyObject {
    /// What `db` fields carry: a URL without password, or a file path.
    var location: String { get }
    func metadata() throws -> [String: String]
    func setMetadata(_ pairs: [(String, String)]) throws
    func upsertSections(_ sections: [SectionInfo]) throws
    /// Inserts the segments (and titles) and moves `last_synced_id`, all in one transaction.
    func commitChunk(_ segments: [SegmentRecord], titles: [TitleRecord], lastSyncedID: Int64) throws
    func insertTitles(_ titles: [TitleRecord]) throws
    func maxTitleID() throws -> Int64
    func maxSegmentID() throws -> Int64
    func maxSectionID() throws -> Int64?
    func hasSection(_ id: Int64) throws -> Bool
    func openSectionIDs() throws -> [Int64]
    func summaries(_ ids: [Int64]) throws -> [SectionSummary]
    /// Takes the per-show sync lock; false when another sync holds it. Released by `unlock`
    /// or when the process or connection dies.
    func tryLock() throws -> Bool
    func unlock()
}

/// Where a receiver keeps its shows: `postgres://…` or `sqlite:DIR`.
public enum ReceiverStoreLocation: Sendable {
    case postgres(PostgresURL)
    case sqlite(String)

    public init(url: String, relativeTo configFile: String) throws {
        if url.hasPrefix("sqlite:") {
            let dir = String(url.dropFirst(7))
            guard !dir.isEmpty else { throw SAError.config("database url 'sqlite:' needs a directory, e.g. sqlite:/var/lib/radio") }
            self = .sqlite(ConfigLoader.resolve(dir, relativeTo: configFile))
        } else {
            self = .postgres(try PostgresURL(parsing: url))
        }
    }

    public static func databaseName(prefix: String, show: String) throws -> String {
        let name = "save_audio_\(prefix)_\(try ShowName.validate(show))"
        guard name.utf8.count <= 63 else {
            throw SAError.config("database name \(name) is longer than PostgreSQL's 63 bytes; use a shorter prefix or show name")
        }
        return name
    }

    /// Opens (creating when missing) the receiver database of a show.
    public func open(show: String, prefix: String, password: String?) throws -> any ReceiverShowDB {
        let name = try ReceiverStoreLocation.databaseName(prefix: prefix, show: show)
        switch self {
        case .postgres(let server):
            return try PGReceiverShowDB(server: server, database: name, password: password)
        case .sqlite(let dir):
            return try SQLiteReceiverShowDB(dir: dir, database: name)
        }
    }

    /// Opens an existing receiver database, or nil when the show was never pulled.
    public func openExisting(show: String, prefix: String, password: String?) throws -> (any ReceiverShowDB)? {
        let name = try ReceiverStoreLocation.databaseName(prefix: prefix, show: show)
        switch self {
        case .postgres(let server):
            let admin = try PGConnection(url: server.with(database: server.database ?? "postgres"), password: password)
            guard try !admin.exec("SELECT 1 FROM pg_database WHERE datname = $1", [name]).isEmpty else { return nil }
            return try PGReceiverShowDB(server: server, database: name, password: password)
        case .sqlite(let dir):
            guard FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name + ".sqlite")) else { return nil }
            return try SQLiteReceiverShowDB(dir: dir, database: name)
        }
    }
}

public final class PGReceiverShowDB: ReceiverShowDB {
    public let conn: PGConnection
    public var location: String { conn.url.display }
    private static let lockKey = "7283001"

    public init(server: PostgresURL, database: String, password: String?) throws {
        let admin = try PGConnection(url: server.with(database: server.database ?? "postgres"), password: password)
        if try admin.exec("SELECT 1 FROM pg_database WHERE datname = $1", [database]).isEmpty {
            do {
                try admin.exec("CREATE DATABASE \(PGConnection.quoteIdentifier(database))")
            } catch let e as SAError where e.message.contains("already exists") {
                // Another syncer created it a moment ago.
            }
        }
        conn = try PGConnection(url: server.with(database: database), password: password)
        try migrate()
    }

    private func migrate() throws { try PGSchema.migrate(conn) }

    public func metadata() throws -> [String: String] { try PGSchema.metadata(conn) }

    public func setMetadata(_ pairs: [(String, String)]) throws {
        try conn.transaction {
            for (k, v) in pairs {
                try conn.exec("INSERT INTO metadata (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [k, v])
            }
        }
    }

    public func upsertSections(_ sections: [SectionInfo]) throws {
        guard !sections.isEmpty else { return }
        try conn.transaction {
            for s in sections {
                try conn.exec("""
                    INSERT INTO sections (id, start_timestamp_ms, is_open, end_timestamp_ms, finish_reason)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (id) DO UPDATE SET start_timestamp_ms = excluded.start_timestamp_ms, is_open = excluded.is_open,
                      end_timestamp_ms = excluded.end_timestamp_ms, finish_reason = excluded.finish_reason
                    """, [String(s.id), String(s.startTimestampMs), s.isOpen ? "1" : "0", s.endTimestampMs.map(String.init), s.finishReason])
            }
        }
    }

    public func commitChunk(_ segments: [SegmentRecord], titles: [TitleRecord], lastSyncedID: Int64) throws {
        try conn.transaction {
            if !segments.isEmpty {
                try conn.copyBinary(table: "segments", columns: ["id", "timestamp_ms", "is_timestamp_from_source", "audio_data",
                                                                 "section_id", "duration_samples"]) { buf in
                    for s in segments {
                        buf.tuple(fields: 6)
                        buf.int64(s.id)
                        buf.int64(s.timestampMs)
                        buf.int32(Int32(s.isTimestampFromSource))
                        buf.bytea(s.audio)
                        buf.int64(s.sectionID)
                        buf.int64(s.durationSamples)
                    }
                }
            }
            try insertTitlesInTransaction(titles)
            try conn.exec("INSERT INTO metadata (key, value) VALUES ('last_synced_id', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          [String(lastSyncedID)])
        }
    }

    private func insertTitlesInTransaction(_ titles: [TitleRecord]) throws {
        for t in titles {
            try conn.exec("""
                INSERT INTO titles (id, section_id, timestamp_ms, title) SELECT $1, $2, $3, $4
                WHERE EXISTS (SELECT 1 FROM sections WHERE id = $2) ON CONFLICT (id) DO NOTHING
                """, [String(t.id), String(t.sectionID), String(t.timestampMs), t.title])
        }
    }

    public func insertTitles(_ titles: [TitleRecord]) throws {
        guard !titles.isEmpty else { return }
        try conn.transaction { try insertTitlesInTransaction(titles) }
    }

    public func maxTitleID() throws -> Int64 {
        Int64(try conn.exec("SELECT coalesce(max(id), 0) FROM titles")[0][0] ?? "0") ?? 0
    }

    public func maxSegmentID() throws -> Int64 {
        Int64(try conn.exec("SELECT coalesce(max(id), 0) FROM segments")[0][0] ?? "0") ?? 0
    }

    public func maxSectionID() throws -> Int64? {
        try conn.exec("SELECT max(id) FROM sections")[0][0].flatMap { Int64($0) }
    }

    public func hasSection(_ id: Int64) throws -> Bool {
        try !conn.exec("SELECT 1 FROM sections WHERE id = $1", [String(id)]).isEmpty
    }

    public func openSectionIDs() throws -> [Int64] {
        try conn.exec("SELECT id FROM sections WHERE is_open = 1").compactMap { $0[0].flatMap { Int64($0) } }
    }

    public func summaries(_ ids: [Int64]) throws -> [SectionSummary] {
        guard !ids.isEmpty else { return [] }
        let list = "{" + ids.map(String.init).joined(separator: ",") + "}"
        return try conn.exec("""
            SELECT s.id, s.start_timestamp_ms, count(g.id), coalesce(sum(g.duration_samples), 0)
            FROM sections s LEFT JOIN segments g ON g.section_id = s.id
            WHERE s.id = ANY($1::bigint[]) GROUP BY s.id ORDER BY s.id
            """, [list]).map { r in
            SectionSummary(id: Int64(r[0]!)!, startTimestampMs: Int64(r[1]!)!, segments: Int64(r[2]!)!, durationSamples: Int64(r[3]!)!)
        }
    }

    public func tryLock() throws -> Bool {
        try conn.exec("SELECT pg_try_advisory_lock(\(PGReceiverShowDB.lockKey))")[0][0] == "t"
    }

    public func unlock() {
        _ = try? conn.exec("SELECT pg_advisory_unlock(\(PGReceiverShowDB.lockKey))")
    }
}

public final class SQLiteReceiverShowDB: ReceiverShowDB {
    public let store: SQLiteShowStore
    private let lockPath: String
    private var lockFD: Int32 = -1
    public var location: String { store.location }

    public init(dir: String, database: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw SAError(.cantCreate, code: "io", "cannot create receiver directory \(dir)")
        }
        store = try SQLiteShowStore(path: (dir as NSString).appendingPathComponent(database + ".sqlite"), create: true)
        lockPath = (dir as NSString).appendingPathComponent(".\(database).sync.lock")
    }

    var db: SQLiteDatabase { store.db }

    public func metadata() throws -> [String: String] { try store.allMetadata() }

    public func setMetadata(_ pairs: [(String, String)]) throws {
        try db.transaction { for (k, v) in pairs { try store.setMetadata(k, v) } }
    }

    public func upsertSections(_ sections: [SectionInfo]) throws {
        guard !sections.isEmpty else { return }
        try db.transaction {
            let s = try db.prepare("""
                INSERT INTO sections (id, start_timestamp_ms, is_open, end_timestamp_ms, finish_reason) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET start_timestamp_ms = excluded.start_timestamp_ms, is_open = excluded.is_open,
                  end_timestamp_ms = excluded.end_timestamp_ms, finish_reason = excluded.finish_reason
                """)
            for x in sections {
                try s.bind([.int(x.id), .int(x.startTimestampMs), .int(x.isOpen ? 1 : 0),
                            x.endTimestampMs.map { .int($0) } ?? .null, x.finishReason.map { .text($0) } ?? .null])
                while try s.step() {}
            }
        }
    }

    public func commitChunk(_ segments: [SegmentRecord], titles: [TitleRecord], lastSyncedID: Int64) throws {
        try db.transaction {
            let s = try db.prepare("""
                INSERT INTO segments (id, timestamp_ms, is_timestamp_from_source, audio_data, section_id, duration_samples)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
            for g in segments {
                try s.bind([.int(g.id), .int(g.timestampMs), .int(g.isTimestampFromSource), .blob(g.audio), .int(g.sectionID),
                            .int(g.durationSamples)])
                while try s.step() {}
            }
            try insertTitlesInTransaction(titles)
            try store.setMetadata(MetaKey.lastSyncedID, String(lastSyncedID))
        }
    }

    private func insertTitlesInTransaction(_ titles: [TitleRecord]) throws {
        let s = try db.prepare("""
            INSERT INTO titles (id, section_id, timestamp_ms, title) SELECT ?1, ?2, ?3, ?4
            WHERE EXISTS (SELECT 1 FROM sections WHERE id = ?2) ON CONFLICT (id) DO NOTHING
            """)
        for t in titles {
            try s.bind([.int(t.id), .int(t.sectionID), .int(t.timestampMs), .text(t.title)])
            while try s.step() {}
        }
    }

    public func insertTitles(_ titles: [TitleRecord]) throws {
        guard !titles.isEmpty else { return }
        try db.transaction { try insertTitlesInTransaction(titles) }
    }

    public func maxTitleID() throws -> Int64 { try db.scalar("SELECT coalesce(max(id), 0) FROM titles")?.int ?? 0 }
    public func maxSegmentID() throws -> Int64 { try db.scalar("SELECT coalesce(max(id), 0) FROM segments")?.int ?? 0 }
    public func maxSectionID() throws -> Int64? { try db.scalar("SELECT max(id) FROM sections")?.int }
    public func hasSection(_ id: Int64) throws -> Bool { try db.scalar("SELECT 1 FROM sections WHERE id = ?", [.int(id)]) != nil }

    public func openSectionIDs() throws -> [Int64] {
        let s = try db.prepare("SELECT id FROM sections WHERE is_open = 1")
        var out: [Int64] = []
        while try s.step() { out.append(s.int(0)) }
        return out
    }

    public func summaries(_ ids: [Int64]) throws -> [SectionSummary] {
        let s = try db.prepare("""
            SELECT s.id, s.start_timestamp_ms, count(g.id), coalesce(sum(g.duration_samples), 0)
            FROM sections s LEFT JOIN segments g ON g.section_id = s.id WHERE s.id = ? GROUP BY s.id
            """)
        var out: [SectionSummary] = []
        for id in ids {
            try s.bind([.int(id)])
            if try s.step() {
                out.append(SectionSummary(id: s.int(0), startTimestampMs: s.int(1), segments: s.int(2), durationSamples: s.int(3)))
            }
        }
        return out
    }

    public func tryLock() throws -> Bool {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SAError(.cantCreate, code: "io", "cannot create lock file \(lockPath)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return false
        }
        lockFD = fd
        return true
    }

    public func unlock() {
        if lockFD >= 0 {
            flock(lockFD, LOCK_UN)
            close(lockFD)
            lockFD = -1
        }
    }
}

public enum PGSchema {
    public static func metadata(_ conn: PGConnection) throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try conn.exec("SELECT key, value FROM metadata") { out[row[0] ?? ""] = row[1] ?? "" }
        return out
    }

    /// Brings a PostgreSQL show database to the current schema version.
    public static func migrate(_ conn: PGConnection) throws {
        try conn.transaction {
            // Serialise concurrent first-time migrations.
            try conn.exec("SELECT pg_advisory_xact_lock(7283000)")
            let has = try conn.exec("SELECT to_regclass('public.metadata') IS NOT NULL")[0][0] == "t"
            var version = has ? Int(try conn.exec("SELECT value FROM metadata WHERE key = 'version'").first?[0] ?? "0") ?? 0 : 0
            guard version <= Schema.currentVersion else {
                throw SAError(.dataError, code: "version", "\(conn.url.display) has schema version \(version), newer than this tool's")
            }
            while version < Schema.currentVersion {
                try conn.exec(Schema.postgresMigrations[version])
                version += 1
                try conn.exec("INSERT INTO metadata (key, value) VALUES ('version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                              [String(version)])
            }
        }
    }
}
