import Foundation
import SACommon

/// The one definition of the show database schema. Each migration moves a database from
/// version N-1 to N; opening an older database applies the missing ones in order.
public enum Schema {
    public static let currentVersion = 4

    /// SQLite migrations, index 0 = version 1.
    static let sqliteMigrations: [String] = [
        """
        CREATE TABLE IF NOT EXISTS metadata (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS sections (
            id BIGINT PRIMARY KEY,
            start_timestamp_ms BIGINT NOT NULL,
            is_open INTEGER NOT NULL DEFAULT 1,
            end_timestamp_ms BIGINT,
            finish_reason TEXT,
            source_url TEXT
        );
        CREATE TABLE IF NOT EXISTS segments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp_ms BIGINT NOT NULL,
            is_timestamp_from_source INTEGER NOT NULL DEFAULT 0,
            audio_data BLOB NOT NULL,
            section_id BIGINT NOT NULL REFERENCES sections(id) ON DELETE CASCADE,
            duration_samples BIGINT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS segments_section_id ON segments(section_id);
        CREATE INDEX IF NOT EXISTS segments_timestamp_ms ON segments(timestamp_ms);
        CREATE TABLE IF NOT EXISTS titles (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            section_id BIGINT NOT NULL REFERENCES sections(id) ON DELETE CASCADE,
            timestamp_ms BIGINT NOT NULL,
            title TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS titles_section_id ON titles(section_id);
        """,
        // 2: export bookkeeping, so `sa-export --pending` exports each section once.
        """
        CREATE TABLE IF NOT EXISTS exports (
            section_id BIGINT PRIMARY KEY REFERENCES sections(id) ON DELETE CASCADE,
            file_path TEXT NOT NULL,
            format TEXT NOT NULL,
            bytes BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            exported_at_ms BIGINT NOT NULL
        );
        """,
        // 3: archive bookkeeping, so the hourly export | push pipeline uploads each section once.
        """
        CREATE TABLE IF NOT EXISTS pushes (
            section_id BIGINT PRIMARY KEY REFERENCES sections(id) ON DELETE CASCADE,
            file_path TEXT NOT NULL,
            remote_path TEXT NOT NULL,
            host TEXT NOT NULL,
            bytes BIGINT NOT NULL,
            sha256 TEXT NOT NULL,
            pushed_at_ms BIGINT NOT NULL
        );
        """,
        // 4: completeness on receivers and what an export held.
        // sections.is_open on a receiver means "not complete here": the recorder has not closed
        // the section (source_is_open) or its last segment (last_segment_id, in local ids) has
        // not arrived yet. `reported` marks sections a section_synced record was written for.
        // exports.duration_samples is the audio the exported file holds, so a section that
        // gained audio since is exported again. A recorder's exports were of closed sections,
        // which never grow, so they are filled in; a receiver's may be short and are redone once.
        """
        ALTER TABLE sections ADD COLUMN source_is_open INTEGER;
        ALTER TABLE sections ADD COLUMN last_segment_id BIGINT;
        ALTER TABLE sections ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
        UPDATE sections SET source_is_open = is_open, reported = 1 - is_open;
        ALTER TABLE exports ADD COLUMN duration_samples BIGINT;
        UPDATE exports SET duration_samples = (SELECT coalesce(sum(g.duration_samples), 0) FROM segments g WHERE g.section_id = exports.section_id)
        WHERE coalesce((SELECT value FROM metadata WHERE key = 'is_recipient'), 'false') <> 'true';
        """,
    ]

    /// PostgreSQL migrations (receiver stores): the same tables and columns, in PostgreSQL's
    /// words. Receivers keep the recorder's segment and title ids, so those are plain keys.
    static let postgresMigrations: [String] = sqliteMigrations.map { sql in
        sql.replacingOccurrences(of: "id INTEGER PRIMARY KEY AUTOINCREMENT", with: "id BIGINT PRIMARY KEY")
            .replacingOccurrences(of: "audio_data BLOB NOT NULL", with: "audio_data BYTEA NOT NULL")
    }

    static func migrations(_ dialect: SQLDialect) -> [String] {
        dialect == .sqlite ? sqliteMigrations : postgresMigrations
    }

    /// Brings a show database to the current version, each missing migration in order, in one
    /// transaction (serialised on PostgreSQL, where two receivers may create a database at once).
    public static func migrate(_ db: any SQLExecutor) throws {
        func version() throws -> Int {
            guard try db.tableExists("metadata") else { return 0 }
            return Int(try ShowDB(db).metadata(MetaKey.version) ?? "0") ?? 0
        }
        func check(_ v: Int) throws {
            guard v <= currentVersion else {
                throw SAError(.version,
                              "\(db.location) has schema version \(v), newer than this tool's \(currentVersion); upgrade save_audio_stream")
            }
        }
        if db.dialect == .sqlite {
            // Already current: no write lock taken (a recorder may be writing right now).
            let v = try version()
            try check(v)
            if v == currentVersion { return }
        }
        try db.transaction {
            if db.dialect == .postgres { try db.run("SELECT pg_advisory_xact_lock(7283000)") }
            var v = try version()
            try check(v)
            let steps = migrations(db.dialect)
            while v < currentVersion {
                try db.script(steps[v])
                v += 1
                try db.run(ShowDB.SQL.setMetadata, [.text(MetaKey.version), .text(String(v))])
            }
        }
    }

    /// The refusal message of the original save_audio_stream, kept byte for byte (scripts match it).
    public static let recipientRefusal =
        "Cannot record to a recipient database. This database is configured for syncing only."
}

/// Metadata keys, one place for their spelling.
public enum MetaKey {
    public static let version = "version"
    public static let uniqueID = "unique_id"
    public static let name = "name"
    public static let audioFormat = "audio_format"
    public static let bitrate = "bitrate"
    public static let sampleRate = "sample_rate"
    public static let isRecipient = "is_recipient"
    public static let sourceUniqueID = "source_unique_id"
    public static let lastSyncedID = "last_synced_id"
    public static let splitInterval = "split_interval"
    /// Opus pre-skip (encoder lookahead, 48 kHz samples) or AAC encoder delay (16 kHz samples).
    public static let encoderDelay = "encoder_delay_samples"
    public static let createdAtMs = "created_at_ms"
    /// Receivers: added to recorder segment/title ids after `--replace-source`, whose new
    /// database numbers from 1 again; and the highest recorder title id copied.
    public static let segmentIDOffset = "segment_id_offset"
    public static let titleIDOffset = "title_id_offset"
    public static let titlesSyncedID = "titles_synced_id"
    /// Receiver, for monitoring: where the recorder's newest audio ended when a pass last
    /// asked (ms), and when the show's last pass without error finished (ms).
    public static let recorderNewestMs = "recorder_newest_ms"
    public static let lastGoodPassMs = "last_good_pass_ms"
}

public enum UniqueID {
    /// `db_` + 12 random alphanumerics.
    public static func make() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var rng = SystemRandomNumberGenerator()
        return "db_" + String((0..<12).map { _ in alphabet[Int(rng.next(upperBound: UInt64(alphabet.count)))] })
    }
}
