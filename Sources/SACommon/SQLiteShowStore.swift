import Foundation

/// What the recorder needs from a show database. A PostgreSQL store implements the same
/// protocol for the receiver side.
public protocol RecordingStore: AnyObject {
    var location: String { get }
    func metadata(_ key: String) throws -> String?
    /// Inserts the section (if new) and one segment in one transaction; returns the segment id.
    func commitSegment(_ segment: NewSegment, section: NewSection) throws -> Int64
    func addTitle(sectionID: Int64, timestampMs: Int64, title: String) throws
    func finishSection(id: Int64, endTimestampMs: Int64, reason: String) throws
}

public struct NewSection: Sendable {
    public var id: Int64
    public var startTimestampMs: Int64
    public var sourceURL: String
    public init(id: Int64, startTimestampMs: Int64, sourceURL: String) {
        self.id = id
        self.startTimestampMs = startTimestampMs
        self.sourceURL = sourceURL
    }
}

public struct NewSegment: Sendable {
    public var timestampMs: Int64
    public var isTimestampFromSource: Bool
    public var audioData: [UInt8]
    public var durationSamples: Int64
    public init(timestampMs: Int64, isTimestampFromSource: Bool, audioData: [UInt8], durationSamples: Int64) {
        self.timestampMs = timestampMs
        self.isTimestampFromSource = isTimestampFromSource
        self.audioData = audioData
        self.durationSamples = durationSamples
    }
}

/// Settings a new show database is created with.
public struct ShowSettings: Sendable {
    public var name: String
    public var audioFormat: AudioFormat
    public var bitrate: Int
    public var splitInterval: Int
    public var encoderDelaySamples: Int
    public init(name: String, audioFormat: AudioFormat, bitrate: Int, splitInterval: Int, encoderDelaySamples: Int) {
        self.name = name
        self.audioFormat = audioFormat
        self.bitrate = bitrate
        self.splitInterval = splitInterval
        self.encoderDelaySamples = encoderDelaySamples
    }
}

/// One show's SQLite database (`<output_dir>/<show>.sqlite`).
public final class SQLiteShowStore: RecordingStore {
    public let db: SQLiteDatabase
    public var location: String { db.path }
    private var sectionInserted: Set<Int64> = []
    private lazy var insertSegment = try? db.prepare(
        "INSERT INTO segments (timestamp_ms, is_timestamp_from_source, audio_data, section_id, duration_samples) VALUES (?, ?, ?, ?, ?)")

    public static func path(outputDir: String, show: String) -> String {
        (outputDir as NSString).appendingPathComponent("\(show).sqlite")
    }

    /// Opens (and migrates) an existing database, or creates it when `create` is true.
    public init(path: String, readOnly: Bool = false, create: Bool = false) throws {
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists && !create {
            throw SAError(.noInput, code: "not_found", "database \(path) does not exist")
        }
        if exists && !create { try SQLiteShowStore.requireShowDatabase(path) }
        db = try SQLiteDatabase(path: path, readOnly: readOnly, create: create)
        if readOnly {
            try db.execute("PRAGMA foreign_keys = ON")
            return
        }
        if !exists {
            // auto_vacuum must be chosen before the first table exists.
            try db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        }
        do {
            try db.execute("PRAGMA journal_mode = WAL")
        } catch let e as SAError where e.message.contains("not a database") || e.message.contains("malformed") {
            throw SAError(.dataError, code: "corrupt", "\(path) is not a SQLite database")
        }
        try db.execute("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL")
        try migrate()
    }

    /// Refuses, before anything is written (no migration, no WAL switch), a file that is not one
    /// of our show databases: some other SQLite file named by mistake or on purpose.
    public static func requireShowDatabase(_ path: String) throws {
        let probe = try SQLiteDatabase(path: path, readOnly: true, create: false)
        let hasMeta: Int64?
        do {
            hasMeta = try probe.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'metadata'")?.int
        } catch {
            throw SAError(.dataError, code: "corrupt", "\(path) is not a SQLite database")
        }
        let ok = hasMeta == 1
            && (try? probe.scalar("SELECT count(*) FROM metadata WHERE key IN ('unique_id', 'audio_format')")?.int) == 2
        guard ok else {
            throw SAError(.dataError, code: "not_a_show_database",
                          "\(path) is not a save_audio_stream show database (no unique_id and audio_format in its metadata); left untouched")
        }
    }

    /// Before creating our tables in an existing file: one that holds tables but no metadata
    /// table is someone else's and is refused untouched (one of ours that a killed first run left
    /// without its identity is taken up again).
    public static func refuseForeign(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let probe = try SQLiteDatabase(path: path, readOnly: true, create: false)
        let tables: Int64?
        let meta: Int64?
        do {
            tables = try probe.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")?.int
            meta = try probe.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'metadata'")?.int
        } catch {
            throw SAError(.dataError, code: "corrupt", "\(path) is not a SQLite database")
        }
        if (tables ?? 0) > 0 && meta == 0 {
            throw SAError(.dataError, code: "not_a_show_database",
                          "\(path) holds other tables and no save_audio_stream metadata; left untouched (move it away or use another name)")
        }
    }

    public var schemaVersion: Int {
        (try? metadata(MetaKey.version)).flatMap { $0.flatMap(Int.init) } ?? 0
    }

    private func migrate() throws {
        let hasMeta = try db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'metadata'")?.int ?? 0
        var version = hasMeta > 0 ? (try metadata(MetaKey.version).flatMap(Int.init) ?? 0) : 0
        guard version <= Schema.currentVersion else {
            throw SAError(.dataError, code: "version",
                          "\(db.path) has schema version \(version), newer than this tool's \(Schema.currentVersion); upgrade save_audio_stream")
        }
        while version < Schema.currentVersion {
            let next = version + 1
            try db.transaction {
                try db.execute(Schema.sqliteMigrations[next - 1])
                try db.run("INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           [.text(MetaKey.version), .text(String(next))])
            }
            version = next
        }
    }

    public func metadata(_ key: String) throws -> String? {
        try db.scalar("SELECT value FROM metadata WHERE key = ?", [.text(key)])?.text
    }

    /// Every metadata key and value.
    public func allMetadata() throws -> [String: String] {
        let s = try db.prepare("SELECT key, value FROM metadata")
        var out: [String: String] = [:]
        while try s.step() { out[s.text(0) ?? ""] = s.text(1) ?? "" }
        return out
    }

    public func setMetadata(_ key: String, _ value: String) throws {
        try db.run("INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   [.text(key), .text(value)])
    }

    public var isRecipient: Bool { (try? metadata(MetaKey.isRecipient)) == "true" }

    /// Opens a show database for recording: refuses recipient databases (touching nothing),
    /// creates a new one with its identity, and checks that an existing one has the same
    /// format and bitrate, since one database holds one continuous encoding.
    public static func openForRecording(outputDir: String, settings: ShowSettings) throws -> SQLiteShowStore {
        let path = SQLiteShowStore.path(outputDir: outputDir, show: settings.name)
        try refuseForeign(path)
        if FileManager.default.fileExists(atPath: path) {
            // Look before migrating or writing anything.
            let probe = try SQLiteDatabase(path: path, readOnly: true)
            let hasMeta = (try? probe.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'metadata'")?.int) ?? nil
            if hasMeta == nil {
                throw SAError(.dataError, code: "corrupt", "\(path) is not a SQLite database")
            }
            if hasMeta! > 0, try probe.scalar("SELECT value FROM metadata WHERE key = 'is_recipient'")?.text == "true" {
                throw SAError(.dataError, code: "recipient", Schema.recipientRefusal, context: [("db", .string(path))])
            }
        }
        let store = try SQLiteShowStore(path: path, create: true)
        if try store.metadata(MetaKey.uniqueID) == nil {
            try store.db.transaction {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                for (k, v) in [
                    (MetaKey.uniqueID, UniqueID.make()), (MetaKey.name, settings.name),
                    (MetaKey.audioFormat, settings.audioFormat.rawValue), (MetaKey.bitrate, String(settings.bitrate)),
                    (MetaKey.sampleRate, String(settings.audioFormat.sampleRate)), (MetaKey.isRecipient, "false"),
                    (MetaKey.splitInterval, String(settings.splitInterval)),
                    (MetaKey.encoderDelay, String(settings.encoderDelaySamples)), (MetaKey.createdAtMs, String(now)),
                ] {
                    try store.setMetadata(k, v)
                }
            }
        } else {
            let format = try store.metadata(MetaKey.audioFormat) ?? ""
            let bitrate = try store.metadata(MetaKey.bitrate) ?? ""
            let delay = try store.metadata(MetaKey.encoderDelay) ?? ""
            var diffs: [String] = []
            if format != settings.audioFormat.rawValue { diffs.append("audio_format '\(format)' vs '\(settings.audioFormat.rawValue)'") }
            if bitrate != String(settings.bitrate) { diffs.append("bitrate '\(bitrate)' vs '\(settings.bitrate)'") }
            if !diffs.isEmpty {
                throw SAError(.config, code: "mismatch",
                              "\(path) was recorded with other settings (database vs config: \(diffs.joined(separator: ", "))); "
                                  + "use a new show name or move the old database away")
            }
            if delay != String(settings.encoderDelaySamples) { try store.setMetadata(MetaKey.encoderDelay, String(settings.encoderDelaySamples)) }
        }
        return store
    }

    /// Marks sections left open by a recorder that died (kill -9, power loss) as finished.
    /// Only called while holding the show lock, so no live recorder owns them.
    @discardableResult
    public func closeAbandonedSections() throws -> Int {
        let open = try db.scalar("SELECT count(*) FROM sections WHERE is_open = 1")?.int ?? 0
        if open > 0 {
            try db.run("""
                UPDATE sections SET is_open = 0, finish_reason = 'interrupted',
                  end_timestamp_ms = (SELECT max(s.timestamp_ms) FROM segments s WHERE s.section_id = sections.id)
                WHERE is_open = 1
                """)
        }
        return Int(open)
    }

    public func commitSegment(_ segment: NewSegment, section: NewSection) throws -> Int64 {
        try db.transaction {
            if !sectionInserted.contains(section.id) {
                try db.run("INSERT INTO sections (id, start_timestamp_ms, is_open, source_url) VALUES (?, ?, 1, ?) ON CONFLICT(id) DO NOTHING",
                           [.int(section.id), .int(section.startTimestampMs), .text(Redaction.userinfo(section.sourceURL))])
            }
            guard let ins = insertSegment else { throw SAError.internalError("cannot prepare segment insert") }
            try ins.bind([.int(segment.timestampMs), .int(segment.isTimestampFromSource ? 1 : 0),
                          .blob(segment.audioData), .int(section.id), .int(segment.durationSamples)])
            while try ins.step() {}
            sectionInserted.insert(section.id)
            return db.lastInsertRowID
        }
    }

    public func addTitle(sectionID: Int64, timestampMs: Int64, title: String) throws {
        try db.run("INSERT INTO titles (section_id, timestamp_ms, title) VALUES (?, ?, ?)",
                   [.int(sectionID), .int(timestampMs), .text(title)])
    }

    public func finishSection(id: Int64, endTimestampMs: Int64, reason: String) throws {
        try db.run("UPDATE sections SET is_open = 0, end_timestamp_ms = ?, finish_reason = ? WHERE id = ?",
                   [.int(endTimestampMs), .text(reason), .int(id)])
    }
}
