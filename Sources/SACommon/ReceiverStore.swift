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
    /// Stores the recorder's view of these sections (closed or not, and its last segment id,
    /// shifted by `segmentIDOffset` into local ids); a section stays open here until complete.
    func upsertSections(_ sections: [SectionInfo], segmentIDOffset: Int64) throws
    /// Inserts the segments and moves `last_synced_id`, all in one transaction, and marks the
    /// sections this chunk completed.
    func commitChunk(_ segments: [SegmentRecord], lastSyncedID: Int64) throws
    /// Inserts titles (whose sections are held here) and moves `titles_synced_id`, in one transaction.
    func insertTitles(_ titles: [TitleRecord], titlesSyncedID: Int64) throws
    func maxTitleID() throws -> Int64
    func maxSegmentID() throws -> Int64
    func maxSectionID() throws -> Int64?
    func sectionIDs() throws -> Set<Int64>
    /// Sections not known to be complete here (open, or held since before completeness was recorded).
    func incompleteSectionIDs() throws -> [Int64]
    /// Complete sections no `section_synced` record was written for yet.
    func unreportedCompleteSections() throws -> [SectionSummary]
    func markReported(_ ids: [Int64]) throws
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

    public func upsertSections(_ sections: [SectionInfo], segmentIDOffset: Int64) throws {
        guard !sections.isEmpty else { return }
        try conn.transaction {
            for s in sections {
                try conn.exec(ReceiverSQL.upsertSection.replacingOccurrences(of: "?", with: "$"),
                              [String(s.id), String(s.startTimestampMs), s.isOpen ? "1" : "0", s.endTimestampMs.map(String.init), s.finishReason,
                               s.lastSegmentID.map { String($0 + segmentIDOffset) }])
            }
            try conn.exec(ReceiverSQL.markComplete)
        }
    }

    public func commitChunk(_ segments: [SegmentRecord], lastSyncedID: Int64) throws {
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
            try conn.exec("INSERT INTO metadata (key, value) VALUES ('last_synced_id', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          [String(lastSyncedID)])
            try conn.exec(ReceiverSQL.markComplete)
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

    public func insertTitles(_ titles: [TitleRecord], titlesSyncedID: Int64) throws {
        try conn.transaction {
            try insertTitlesInTransaction(titles)
            try conn.exec("INSERT INTO metadata (key, value) VALUES ('titles_synced_id', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                          [String(titlesSyncedID)])
        }
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

    public func sectionIDs() throws -> Set<Int64> {
        Set(try conn.exec("SELECT id FROM sections").compactMap { $0[0].flatMap { Int64($0) } })
    }

    public func incompleteSectionIDs() throws -> [Int64] {
        try conn.exec(ReceiverSQL.incomplete).compactMap { $0[0].flatMap { Int64($0) } }
    }

    public func unreportedCompleteSections() throws -> [SectionSummary] {
        try conn.exec(ReceiverSQL.unreported).map { r in
            SectionSummary(id: Int64(r[0]!)!, startTimestampMs: Int64(r[1]!)!, segments: Int64(r[2]!)!, durationSamples: Int64(r[3]!)!)
        }
    }

    public func markReported(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try conn.exec("UPDATE sections SET reported = 1 WHERE id = ANY($1::bigint[])", ["{" + ids.map(String.init).joined(separator: ",") + "}"])
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
        let path = (dir as NSString).appendingPathComponent(database + ".sqlite")
        try SQLiteShowStore.refuseForeign(path)
        store = try SQLiteShowStore(path: path, create: true)
        lockPath = (dir as NSString).appendingPathComponent(".\(database).sync.lock")
    }

    var db: SQLiteDatabase { store.db }

    public func metadata() throws -> [String: String] { try store.allMetadata() }

    public func setMetadata(_ pairs: [(String, String)]) throws {
        try db.transaction { for (k, v) in pairs { try store.setMetadata(k, v) } }
    }

    public func upsertSections(_ sections: [SectionInfo], segmentIDOffset: Int64) throws {
        guard !sections.isEmpty else { return }
        try db.transaction {
            let s = try db.prepare(ReceiverSQL.upsertSection)
            for x in sections {
                try s.bind([.int(x.id), .int(x.startTimestampMs), .int(x.isOpen ? 1 : 0),
                            x.endTimestampMs.map { .int($0) } ?? .null, x.finishReason.map { .text($0) } ?? .null,
                            x.lastSegmentID.map { .int($0 + segmentIDOffset) } ?? .null])
                while try s.step() {}
            }
            try db.execute(ReceiverSQL.markComplete)
        }
    }

    public func commitChunk(_ segments: [SegmentRecord], lastSyncedID: Int64) throws {
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
            try store.setMetadata(MetaKey.lastSyncedID, String(lastSyncedID))
            try db.execute(ReceiverSQL.markComplete)
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

    public func insertTitles(_ titles: [TitleRecord], titlesSyncedID: Int64) throws {
        try db.transaction {
            try insertTitlesInTransaction(titles)
            try store.setMetadata(MetaKey.titlesSyncedID, String(titlesSyncedID))
        }
    }

    public func maxTitleID() throws -> Int64 { try db.scalar("SELECT coalesce(max(id), 0) FROM titles")?.int ?? 0 }
    public func maxSegmentID() throws -> Int64 { try db.scalar("SELECT coalesce(max(id), 0) FROM segments")?.int ?? 0 }
    public func maxSectionID() throws -> Int64? { try db.scalar("SELECT max(id) FROM sections")?.int }
    public func sectionIDs() throws -> Set<Int64> {
        let s = try db.prepare("SELECT id FROM sections")
        var out = Set<Int64>()
        while try s.step() { out.insert(s.int(0)) }
        return out
    }

    public func incompleteSectionIDs() throws -> [Int64] {
        let s = try db.prepare(ReceiverSQL.incomplete)
        var out: [Int64] = []
        while try s.step() { out.append(s.int(0)) }
        return out
    }

    public func unreportedCompleteSections() throws -> [SectionSummary] {
        let s = try db.prepare(ReceiverSQL.unreported)
        var out: [SectionSummary] = []
        while try s.step() { out.append(SectionSummary(id: s.int(0), startTimestampMs: s.int(1), segments: s.int(2), durationSamples: s.int(3))) }
        return out
    }

    public func markReported(_ ids: [Int64]) throws {
        try db.transaction {
            let s = try db.prepare("UPDATE sections SET reported = 1 WHERE id = ?")
            for id in ids {
                try s.bind([.int(id)])
                while try s.step() {}
            }
        }
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

/// Receiver statements whose text is the same on both backends (`?N` placeholders become `$N`
/// for PostgreSQL).
enum ReceiverSQL {
    static let newestSegment = "SELECT timestamp_ms, duration_samples FROM segments ORDER BY id DESC LIMIT 1"
    /// A section arrives (or comes again) open; `markComplete` closes it once the recorder has
    /// closed it and its last segment is here. `reported` is cleared when the recorder's last
    /// segment of it changed, so a section that grew is reported again.
    static let upsertSection = """
        INSERT INTO sections (id, start_timestamp_ms, is_open, end_timestamp_ms, finish_reason, source_is_open, last_segment_id, reported)
        VALUES (?1, ?2, 1, ?4, ?5, ?3, ?6, 0)
        ON CONFLICT (id) DO UPDATE SET start_timestamp_ms = excluded.start_timestamp_ms, is_open = 1,
          end_timestamp_ms = excluded.end_timestamp_ms, finish_reason = excluded.finish_reason,
          source_is_open = excluded.source_is_open, last_segment_id = excluded.last_segment_id,
          reported = CASE WHEN sections.last_segment_id IS NULL OR sections.last_segment_id = excluded.last_segment_id
                          THEN sections.reported ELSE 0 END
        """

    static let markComplete = """
        UPDATE sections SET is_open = 0
        WHERE is_open = 1 AND source_is_open = 0 AND last_segment_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM segments g WHERE g.id = sections.last_segment_id)
        """

    static let incomplete = "SELECT id FROM sections WHERE is_open = 1 OR last_segment_id IS NULL ORDER BY id"

    static let unreported = """
        SELECT s.id, s.start_timestamp_ms, count(g.id), coalesce(sum(g.duration_samples), 0)
        FROM sections s LEFT JOIN segments g ON g.section_id = s.id
        WHERE s.is_open = 0 AND s.reported = 0 GROUP BY s.id, s.start_timestamp_ms ORDER BY s.id
        """
}
