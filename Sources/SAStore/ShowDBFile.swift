import Foundation
import SACommon

/// Opening show databases that are SQLite files: a recorder's `<output_dir>/<show>.sqlite`,
/// or a receiver's `<dir>/save_audio_<prefix>_<show>.sqlite`.
extension ShowDB {
    /// A recorder's database file for a show.
    public static func path(outputDir: String, show: String) -> String {
        (outputDir as NSString).appendingPathComponent("\(show).sqlite")
    }

    /// Opens (and, unless `readOnly`, migrates) an existing show database, or creates an empty
    /// one when `create` is true. A file that is not one of ours is refused untouched.
    public static func openFile(_ path: String, readOnly: Bool = false, create: Bool = false) throws -> ShowDB {
        let exists = FileManager.default.fileExists(atPath: path)
        if !exists && !create {
            throw SAError(.notFound, "database \(path) does not exist")
        }
        let db = try SQLiteDatabase(path: path, readOnly: readOnly, create: create)
        // Checked on this connection, before anything below writes (no second open per call:
        // the sync API opens a database for every request).
        if exists && !create { try requireShowDatabase(db) }
        if readOnly {
            try db.script("PRAGMA foreign_keys = ON")
            return ShowDB(db)
        }
        if !exists {
            // auto_vacuum must be chosen before the first table exists.
            try db.script("PRAGMA auto_vacuum = INCREMENTAL")
        }
        do {
            try db.script("PRAGMA journal_mode = WAL")
        } catch let e as SAError where e.message.contains("not a database") || e.message.contains("malformed") {
            throw SAError(.corrupt, "\(path) is not a SQLite database")
        }
        try db.script("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL")
        try Schema.migrate(db)
        return ShowDB(db)
    }

    /// Refuses, before anything is written (no migration, no WAL switch), a file that is not one
    /// of our show databases: some other SQLite file named by mistake or on purpose.
    static func requireShowDatabase(_ db: SQLiteDatabase) throws {
        let ours: Bool
        do {
            ours = try isShowDatabase(db)
        } catch {
            throw SAError(.corrupt, "\(db.path) is not a SQLite database")
        }
        guard ours else {
            throw SAError(.notAShowDatabase,
                          "\(db.path) is not a save_audio_stream show database (no unique_id and audio_format in its metadata); left untouched")
        }
    }

    /// Before creating our tables in an existing file: one that holds tables but no metadata
    /// table is someone else's and is refused untouched (one of ours that a killed first run left
    /// without its identity is taken up again).
    public static func refuseForeign(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let probe = try SQLiteDatabase(path: path, readOnly: true, create: false)
        let tables: Int64?
        let meta: Bool
        do {
            tables = try probe.first("SELECT count(*) FROM sqlite_master WHERE type = 'table'", []) { $0.int(0) }
            meta = try probe.tableExists("metadata")
        } catch {
            throw SAError(.corrupt, "\(path) is not a SQLite database")
        }
        if (tables ?? 0) > 0 && !meta {
            throw SAError(.notAShowDatabase,
                          "\(path) holds other tables and no save_audio_stream metadata; left untouched (move it away or use another name)")
        }
    }

    /// Opens a show database for recording: refuses recipient databases (touching nothing),
    /// creates a new one with its identity, and checks that an existing one has the same
    /// format and bitrate, since one database holds one continuous encoding.
    public static func openForRecording(outputDir: String, settings: ShowSettings) throws -> ShowDB {
        let path = ShowDB.path(outputDir: outputDir, show: settings.name)
        try refuseForeign(path)
        if FileManager.default.fileExists(atPath: path) {
            // Look before migrating or writing anything.
            let probe = try SQLiteDatabase(path: path, readOnly: true)
            guard let hasMeta = try? probe.tableExists("metadata") else {
                throw SAError(.corrupt, "\(path) is not a SQLite database")
            }
            if hasMeta, try ShowDB(probe).metadata(MetaKey.isRecipient) == "true" {
                throw SAError(.recipient, Schema.recipientRefusal, context: [("db", .string(path))])
            }
        }
        let store = try openFile(path, create: true)
        if try store.metadata(MetaKey.uniqueID) == nil {
            try store.setMetadata([
                (MetaKey.uniqueID, UniqueID.make()), (MetaKey.name, settings.name),
                (MetaKey.audioFormat, settings.audioFormat.rawValue), (MetaKey.bitrate, String(settings.bitrate)),
                (MetaKey.sampleRate, String(settings.audioFormat.sampleRate)), (MetaKey.isRecipient, "false"),
                (MetaKey.splitInterval, String(settings.splitInterval)),
                (MetaKey.encoderDelay, String(settings.encoderDelaySamples)), (MetaKey.createdAtMs, String(ShowDB.nowMs)),
            ])
        } else {
            let format = try store.metadata(MetaKey.audioFormat) ?? ""
            let bitrate = try store.metadata(MetaKey.bitrate) ?? ""
            let delay = try store.metadata(MetaKey.encoderDelay) ?? ""
            var diffs: [String] = []
            if format != settings.audioFormat.rawValue { diffs.append("audio_format '\(format)' vs '\(settings.audioFormat.rawValue)'") }
            if bitrate != String(settings.bitrate) { diffs.append("bitrate '\(bitrate)' vs '\(settings.bitrate)'") }
            if !diffs.isEmpty {
                throw SAError(.settingsMismatch,
                              "\(path) was recorded with other settings (database vs config: \(diffs.joined(separator: ", "))); "
                                  + "use a new show name or move the old database away")
            }
            if delay != String(settings.encoderDelaySamples) {
                try store.setMetadata([(MetaKey.encoderDelay, String(settings.encoderDelaySamples))])
            }
        }
        return store
    }

    /// A receiver's SQLite copy of a show, created (with its directory) when missing.
    public static func openReceiverFile(directory: String, database: String) throws -> ShowDB {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SAError(.cantCreate, "cannot create receiver directory \(directory)")
        }
        let path = (directory as NSString).appendingPathComponent(database + ".sqlite")
        try refuseForeign(path)
        return try openFile(path, create: true)
    }
}
