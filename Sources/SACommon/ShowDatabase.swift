import Foundation

/// One show database, recorder (SQLite) or receiver (PostgreSQL or SQLite), as the export and
/// retention tools see it. `ShowDatabases.open(db:)` picks the kind from the `db` string that
/// JSON lines carry: a file path or a `postgres://` URL without password.
public protocol ShowDatabase: AnyObject {
    var location: String { get }
    /// False once the connection is known to be dead (the server restarted); never reused then.
    var isUsable: Bool { get }
    func metadata() throws -> [String: String]
    func sections() throws -> [SectionInfo]
    /// When the newest stored audio ends (ms since the epoch), nil without segments.
    func newestAudioEndMs(sampleRate: Int64) throws -> Int64?
    func section(_ id: Int64) throws -> SectionInfo?
    /// Whether the section's first segment is a natural boundary (is_timestamp_from_source = 1).
    func startsAtBoundary(_ id: Int64) throws -> Bool
    /// Streams the section's segments in id order without holding them all in memory.
    func forEachSegment(section: Int64, _ body: (SegmentRecord) throws -> Void) throws
    func titles(section: Int64) throws -> [TitleRecord]
    /// The section's segments without their audio: id, timestamp and duration, in id order.
    func timeline(section: Int64) throws -> [(id: Int64, timestampMs: Int64, durationSamples: Int64)]
    /// One segment with its audio, or nil.
    func segment(_ id: Int64) throws -> SegmentRecord?
    /// Records that a finished section was exported holding `durationSamples` of audio.
    func recordExport(section: Int64, filePath: String, format: String, bytes: Int64, sha256: String, durationSamples: Int64) throws
    /// Exported sections and the audio their files hold (-1 when an older version did not say).
    func exportedDurations() throws -> [Int64: Int64]
    func recordPush(section: Int64, filePath: String, remotePath: String, host: String, bytes: Int64, sha256: String) throws
    func pushedSectionIDs() throws -> Set<Int64>
    /// Audio bytes and segment count of sections, for retention reports.
    func sizes(of sections: [Int64]) throws -> (segments: Int64, bytes: Int64)
    /// Deletes the sections (and by cascade their segments and titles) in one transaction.
    func deleteSections(_ ids: [Int64]) throws
    /// Gives the freed space back (SQLite: incremental vacuum and checkpoint; PostgreSQL: VACUUM).
    func reclaimSpace() throws
}

public enum ShowDatabases {
    /// Opens the database a `db` field names. `password` is used for PostgreSQL.
    public static func open(db: String, password: String?, readOnly: Bool = false) throws -> any ShowDatabase {
        if db.hasPrefix("postgres://") || db.hasPrefix("postgresql://") {
            let url = try PostgresURL(parsing: db)
            guard url.database != nil else { throw SAError(.usage, code: "bad_param", "\(db) names no database") }
            let conn = try PGConnection(url: url, password: password, applicationName: "save_audio_stream")
            // Ours only when its metadata names it (unique_id, audio_format); anything else is
            // refused before a migration could add our tables to someone else's database.
            let hasMeta = try conn.exec("SELECT to_regclass('public.metadata') IS NOT NULL").first?.first ?? nil
            var ours = hasMeta == "t"
            if ours {
                ours = (try conn.exec("SELECT count(*) FROM metadata WHERE key IN ('unique_id', 'audio_format')").first?.first ?? nil) == "2"
            }
            guard ours else {
                throw SAError(.dataError, code: "not_a_show_database", "\(url.display) is not a save_audio_stream show database; left untouched")
            }
            if !readOnly { try PGSchema.migrate(conn) }
            return PGShowDatabase(conn: conn)
        }
        guard FileManager.default.fileExists(atPath: db) else {
            throw SAError(.noInput, code: "not_found", "database \(db) does not exist")
        }
        return SQLiteShowDatabase(store: try SQLiteShowStore(path: db, readOnly: readOnly))
    }
}

public final class SQLiteShowDatabase: ShowDatabase {
    public let store: SQLiteShowStore
    var db: SQLiteDatabase { store.db }
    public var location: String { store.location }

    public init(store: SQLiteShowStore) { self.store = store }
    public var isUsable: Bool { true }

    public func metadata() throws -> [String: String] { try store.allMetadata() }

    private static let sectionQuery = """
        SELECT s.id, s.start_timestamp_ms, s.is_open, s.end_timestamp_ms, s.finish_reason,
               min(g.id), max(g.id), count(g.id), coalesce(sum(g.duration_samples), 0)
        FROM sections s LEFT JOIN segments g ON g.section_id = s.id
        """

    private func readSections(_ s: SQLiteStatement) throws -> [SectionInfo] {
        var out: [SectionInfo] = []
        while try s.step() {
            out.append(SectionInfo(id: s.int(0), startTimestampMs: s.int(1), isOpen: s.int(2) != 0, endTimestampMs: s.value(3).int,
                                   finishReason: s.text(4), firstSegmentID: s.value(5).int, lastSegmentID: s.value(6).int,
                                   segments: s.int(7), durationSamples: s.int(8)))
        }
        return out
    }

    public func sections() throws -> [SectionInfo] {
        try readSections(try db.prepare(SQLiteShowDatabase.sectionQuery + " GROUP BY s.id ORDER BY s.id"))
    }

    public func newestAudioEndMs(sampleRate: Int64) throws -> Int64? {
        let s = try db.prepare(ReceiverSQL.newestSegment)
        guard try s.step() else { return nil }
        return s.int(0) + s.int(1) * 1000 / sampleRate
    }

    public func section(_ id: Int64) throws -> SectionInfo? {
        let s = try db.prepare(SQLiteShowDatabase.sectionQuery + " WHERE s.id = ? GROUP BY s.id")
        try s.bind([.int(id)])
        return try readSections(s).first
    }

    public func startsAtBoundary(_ id: Int64) throws -> Bool {
        try db.scalar("SELECT is_timestamp_from_source FROM segments WHERE section_id = ? ORDER BY id LIMIT 1", [.int(id)])?.int == 1
    }

    public func forEachSegment(section: Int64, _ body: (SegmentRecord) throws -> Void) throws {
        let s = try db.prepare("""
            SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples, audio_data
            FROM segments WHERE section_id = ? ORDER BY id
            """)
        try s.bind([.int(section)])
        while try s.step() {
            guard case .blob(let audio) = s.value(5) else { continue }
            try body(SegmentRecord(id: s.int(0), timestampMs: s.int(1), isTimestampFromSource: s.int(2), sectionID: s.int(3),
                                   durationSamples: s.int(4), audio: audio))
        }
    }

    public func timeline(section: Int64) throws -> [(id: Int64, timestampMs: Int64, durationSamples: Int64)] {
        let s = try db.prepare("SELECT id, timestamp_ms, duration_samples FROM segments WHERE section_id = ? ORDER BY id")
        try s.bind([.int(section)])
        var out: [(id: Int64, timestampMs: Int64, durationSamples: Int64)] = []
        while try s.step() { out.append((s.int(0), s.int(1), s.int(2))) }
        return out
    }

    public func segment(_ id: Int64) throws -> SegmentRecord? {
        let s = try db.prepare("""
            SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples, audio_data FROM segments WHERE id = ?
            """)
        try s.bind([.int(id)])
        guard try s.step(), case .blob(let audio) = s.value(5) else { return nil }
        return SegmentRecord(id: s.int(0), timestampMs: s.int(1), isTimestampFromSource: s.int(2), sectionID: s.int(3),
                             durationSamples: s.int(4), audio: audio)
    }

    public func titles(section: Int64) throws -> [TitleRecord] {
        let s = try db.prepare("SELECT id, section_id, timestamp_ms, title FROM titles WHERE section_id = ? ORDER BY timestamp_ms, id")
        try s.bind([.int(section)])
        var out: [TitleRecord] = []
        while try s.step() { out.append(TitleRecord(id: s.int(0), sectionID: s.int(1), timestampMs: s.int(2), title: s.text(3) ?? "")) }
        return out
    }

    public func recordExport(section: Int64, filePath: String, format: String, bytes: Int64, sha256: String, durationSamples: Int64) throws {
        try db.run("""
            INSERT INTO exports (section_id, file_path, format, bytes, sha256, exported_at_ms, duration_samples) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (section_id) DO UPDATE SET file_path = excluded.file_path, format = excluded.format,
              bytes = excluded.bytes, sha256 = excluded.sha256, exported_at_ms = excluded.exported_at_ms,
              duration_samples = excluded.duration_samples
            """, [.int(section), .text(filePath), .text(format), .int(bytes), .text(sha256), .int(Int64(Date().timeIntervalSince1970 * 1000)),
                  .int(durationSamples)])
    }

    public func exportedDurations() throws -> [Int64: Int64] {
        let s = try db.prepare("SELECT section_id, coalesce(duration_samples, -1) FROM exports")
        var out: [Int64: Int64] = [:]
        while try s.step() { out[s.int(0)] = s.int(1) }
        return out
    }

    public func recordPush(section: Int64, filePath: String, remotePath: String, host: String, bytes: Int64, sha256: String) throws {
        try db.run("""
            INSERT INTO pushes (section_id, file_path, remote_path, host, bytes, sha256, pushed_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (section_id) DO UPDATE SET file_path = excluded.file_path, remote_path = excluded.remote_path,
              host = excluded.host, bytes = excluded.bytes, sha256 = excluded.sha256, pushed_at_ms = excluded.pushed_at_ms
            """, [.int(section), .text(filePath), .text(remotePath), .text(host), .int(bytes), .text(sha256),
                  .int(Int64(Date().timeIntervalSince1970 * 1000))])
    }

    public func pushedSectionIDs() throws -> Set<Int64> {
        let s = try db.prepare("SELECT section_id FROM pushes")
        var out = Set<Int64>()
        while try s.step() { out.insert(s.int(0)) }
        return out
    }

    public func sizes(of sections: [Int64]) throws -> (segments: Int64, bytes: Int64) {
        var n: Int64 = 0, b: Int64 = 0
        let s = try db.prepare("SELECT count(*), coalesce(sum(length(audio_data)), 0) FROM segments WHERE section_id = ?")
        for id in sections {
            try s.bind([.int(id)])
            if try s.step() {
                n += s.int(0)
                b += s.int(1)
            }
        }
        return (n, b)
    }

    public func deleteSections(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try db.transaction {
            let s = try db.prepare("DELETE FROM sections WHERE id = ?")
            for id in ids {
                try s.bind([.int(id)])
                while try s.step() {}
            }
        }
    }

    public func reclaimSpace() throws {
        try db.execute("PRAGMA incremental_vacuum")
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }
}

public final class PGShowDatabase: ShowDatabase {
    public let conn: PGConnection
    public var location: String { conn.url.display }

    public init(conn: PGConnection) { self.conn = conn }
    public var isUsable: Bool { conn.isAlive }

    public func metadata() throws -> [String: String] { try PGSchema.metadata(conn) }

    private static let sectionQuery = """
        SELECT s.id, s.start_timestamp_ms, s.is_open, s.end_timestamp_ms, s.finish_reason,
               min(g.id), max(g.id), count(g.id), coalesce(sum(g.duration_samples), 0)
        FROM sections s LEFT JOIN segments g ON g.section_id = s.id
        """

    private func parse(_ rows: [[String?]]) -> [SectionInfo] {
        rows.map { r in
            SectionInfo(id: Int64(r[0]!)!, startTimestampMs: Int64(r[1]!)!, isOpen: r[2] == "1", endTimestampMs: r[3].flatMap { Int64($0) },
                        finishReason: r[4], firstSegmentID: r[5].flatMap { Int64($0) }, lastSegmentID: r[6].flatMap { Int64($0) },
                        segments: Int64(r[7]!)!, durationSamples: Int64(r[8]!)!)
        }
    }

    public func sections() throws -> [SectionInfo] {
        parse(try conn.exec(PGShowDatabase.sectionQuery + " GROUP BY s.id ORDER BY s.id"))
    }

    public func newestAudioEndMs(sampleRate: Int64) throws -> Int64? {
        guard let row = try conn.exec(ReceiverSQL.newestSegment).first, let t = row[0].flatMap({ Int64($0) }),
              let d = row[1].flatMap({ Int64($0) }) else { return nil }
        return t + d * 1000 / sampleRate
    }

    public func section(_ id: Int64) throws -> SectionInfo? {
        parse(try conn.exec(PGShowDatabase.sectionQuery + " WHERE s.id = $1 GROUP BY s.id", [String(id)])).first
    }

    public func startsAtBoundary(_ id: Int64) throws -> Bool {
        try conn.exec("SELECT is_timestamp_from_source FROM segments WHERE section_id = $1 ORDER BY id LIMIT 1", [String(id)]).first?[0] == "1"
    }

    public func forEachSegment(section: Int64, _ body: (SegmentRecord) throws -> Void) throws {
        // A cursor keeps memory flat however long the section is.
        var after: Int64 = -1
        while true {
            let meta = try conn.exec("""
                SELECT id, timestamp_ms, is_timestamp_from_source, duration_samples FROM segments
                WHERE section_id = $1 AND id > $2 ORDER BY id LIMIT 64
                """, [String(section), String(after)])
            if meta.isEmpty { return }
            let audio = try conn.binaryColumn("""
                SELECT audio_data FROM segments WHERE section_id = $1 AND id > $2 ORDER BY id LIMIT 64
                """, [String(section), String(after)])
            guard audio.count == meta.count else { throw SAError(.tempFail, code: "conflict", "segments changed while reading") }
            for (r, a) in zip(meta, audio) {
                try body(SegmentRecord(id: Int64(r[0]!)!, timestampMs: Int64(r[1]!)!, isTimestampFromSource: Int64(r[2]!)!,
                                       sectionID: section, durationSamples: Int64(r[3]!)!, audio: a))
            }
            after = Int64(meta.last![0]!)!
        }
    }

    public func timeline(section: Int64) throws -> [(id: Int64, timestampMs: Int64, durationSamples: Int64)] {
        try conn.exec("SELECT id, timestamp_ms, duration_samples FROM segments WHERE section_id = $1 ORDER BY id", [String(section)])
            .map { (Int64($0[0]!)!, Int64($0[1]!)!, Int64($0[2]!)!) }
    }

    public func segment(_ id: Int64) throws -> SegmentRecord? {
        let meta = try conn.exec("SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples FROM segments WHERE id = $1",
                                 [String(id)])
        guard let r = meta.first, let audio = try conn.binaryColumn("SELECT audio_data FROM segments WHERE id = $1", [String(id)]).first else {
            return nil
        }
        return SegmentRecord(id: Int64(r[0]!)!, timestampMs: Int64(r[1]!)!, isTimestampFromSource: Int64(r[2]!)!, sectionID: Int64(r[3]!)!,
                             durationSamples: Int64(r[4]!)!, audio: audio)
    }

    public func titles(section: Int64) throws -> [TitleRecord] {
        try conn.exec("SELECT id, section_id, timestamp_ms, title FROM titles WHERE section_id = $1 ORDER BY timestamp_ms, id",
                      [String(section)]).map { r in
            TitleRecord(id: Int64(r[0]!)!, sectionID: Int64(r[1]!)!, timestampMs: Int64(r[2]!)!, title: r[3] ?? "")
        }
    }

    public func recordExport(section: Int64, filePath: String, format: String, bytes: Int64, sha256: String, durationSamples: Int64) throws {
        try conn.exec("""
            INSERT INTO exports (section_id, file_path, format, bytes, sha256, exported_at_ms, duration_samples) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (section_id) DO UPDATE SET file_path = excluded.file_path, format = excluded.format,
              bytes = excluded.bytes, sha256 = excluded.sha256, exported_at_ms = excluded.exported_at_ms,
              duration_samples = excluded.duration_samples
            """, [String(section), filePath, format, String(bytes), sha256, String(Int64(Date().timeIntervalSince1970 * 1000)),
                  String(durationSamples)])
    }

    public func exportedDurations() throws -> [Int64: Int64] {
        var out: [Int64: Int64] = [:]
        for r in try conn.exec("SELECT section_id, coalesce(duration_samples, -1) FROM exports") {
            if let id = r[0].flatMap({ Int64($0) }) { out[id] = r[1].flatMap { Int64($0) } ?? -1 }
        }
        return out
    }

    public func recordPush(section: Int64, filePath: String, remotePath: String, host: String, bytes: Int64, sha256: String) throws {
        try conn.exec("""
            INSERT INTO pushes (section_id, file_path, remote_path, host, bytes, sha256, pushed_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (section_id) DO UPDATE SET file_path = excluded.file_path, remote_path = excluded.remote_path,
              host = excluded.host, bytes = excluded.bytes, sha256 = excluded.sha256, pushed_at_ms = excluded.pushed_at_ms
            """, [String(section), filePath, remotePath, host, String(bytes), sha256, String(Int64(Date().timeIntervalSince1970 * 1000))])
    }

    public func pushedSectionIDs() throws -> Set<Int64> {
        Set(try conn.exec("SELECT section_id FROM pushes").compactMap { $0[0].flatMap { Int64($0) } })
    }

    public func sizes(of sections: [Int64]) throws -> (segments: Int64, bytes: Int64) {
        guard !sections.isEmpty else { return (0, 0) }
        let r = try conn.exec("SELECT count(*), coalesce(sum(length(audio_data)), 0) FROM segments WHERE section_id = ANY($1::bigint[])",
                              ["{" + sections.map(String.init).joined(separator: ",") + "}"])
        return (Int64(r[0][0] ?? "0") ?? 0, Int64(r[0][1] ?? "0") ?? 0)
    }

    public func deleteSections(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try conn.exec("DELETE FROM sections WHERE id = ANY($1::bigint[])", ["{" + ids.map(String.init).joined(separator: ",") + "}"])
    }

    public func reclaimSpace() throws {
        try conn.exec("VACUUM segments")
    }
}
