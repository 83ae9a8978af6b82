import Foundation
import TOMLKit

public struct SFTPConfig: Sendable, Equatable {
    public var host: String
    public var port: Int = 22
    public var username: String
    public var credentialProfile: String
    public var remoteDir: String = "."
    public var knownHosts: String
}

public struct SessionConfig: Sendable {
    public var name: String
    public var url: String
    public var audioFormat: AudioFormat = .opus
    public var bitrate: Int
    public var splitInterval: Int = 10
    public var retentionHours: Int = 168
    public var stallTimeoutSeconds: Int = 30
    /// PEM file of certificate authorities trusted for this session's https:// URLs (besides
    /// none: when set, only these); nil uses the system's store.
    public var caFile: String?
    /// libopus complexity, 0–10: the CPU per stream against a little quality (see
    /// save_audio_stream(7), OPUS COMPLEXITY).
    public var opusComplexity = SessionConfig.defaultOpusComplexity
    public var window: DailyWindow?

    public static let defaultOpusComplexity = 5
}

public struct RecordConfig: Sendable {
    public var file: String
    public var outputDir: String
    public var apiPort: Int = 17000
    public var bind: String = "127.0.0.1"
    public var apiTokenProfile: String?
    public var minFreeMB: Int = 200
    public var sftp: SFTPConfig?
    public var sessions: [SessionConfig] = []

    public static let defaultOutputDir = "recordings"
}

public struct ReceiverShow: Sendable, Equatable {
    public var name: String
    public var retentionHours: Int?
    /// Daily slots the show's podcast feed has an item for (instead of one per section).
    public var episodes: [EpisodeSlot] = []
    /// `[feed.<profile>] token` of the credentials: the feed then needs `?token=`.
    public var feedTokenProfile: String?
    public init(name: String, retentionHours: Int? = nil) {
        self.name = name
        self.retentionHours = retentionHours
    }
}

/// `{ name = 'Morning', from = '06:00', to = '09:00', timezone = 'Europe/Berlin' }`: a daily
/// programme; `to` at or before `from` ends the next day.
public struct EpisodeSlot: Sendable, Equatable {
    public var name: String
    public var from: TimeOfDay
    public var to: TimeOfDay
    public var timeZone: TimeZone
}

public struct ReceiverConfig: Sendable {
    public var file: String
    public var remoteURL: String
    public var shows: [ReceiverShow]?
    public var port: Int = 18000
    public var bind: String = "127.0.0.1"
    public var syncIntervalSeconds: Int = 60
    public var chunkSize: Int = 100
    public var databaseURL: String = "postgres://postgres@localhost:5432"
    public var databaseCredentialProfile: String?
    public var databasePrefix: String = "show"
    public var apiTokenProfile: String?
}

public enum LoadedConfig: Sendable {
    case record(RecordConfig)
    case receiver(ReceiverConfig)
}

public enum ConfigLoader {
    /// Loads a config file of either type (the `config_type` key says which).
    public static func load(file: String) throws -> LoadedConfig {
        let root = try TOMLReader.load(file: file)
        let type = try root.string("config_type")
        switch type {
        case "record": return .record(try parseRecord(root))
        case "receiver": return .receiver(try parseReceiver(root))
        case nil: throw SAError.config("\(file): 'config_type' is required ('record' or 'receiver')")
        case let other?: throw SAError.config("\(file): config_type '\(other)' is not 'record' or 'receiver'")
        }
    }

    public static func loadRecord(file: String) throws -> RecordConfig {
        if case .record(let c) = try load(file: file) { return c }
        throw wrongType(file, needs: "record")
    }

    public static func loadReceiver(file: String) throws -> ReceiverConfig {
        if case .receiver(let c) = try load(file: file) { return c }
        throw wrongType(file, needs: "receiver")
    }

    private static func wrongType(_ file: String, needs: String) -> SAError {
        SAError.config("\(file) is a \(needs == "record" ? "receiver" : "record") config; this tool needs config_type = '\(needs)'")
    }

    /// Relative paths in a config file are relative to the file's directory.
    public static func resolve(_ path: String, relativeTo file: String) -> String {
        let expanded = HomePath.expand(path)
        if expanded.hasPrefix("/") { return expanded }
        let dir = (file as NSString).deletingLastPathComponent
        return ((dir.isEmpty ? "." : dir) as NSString).appendingPathComponent(expanded)
    }

    static func parseRecord(_ r: TOMLReader) throws -> RecordConfig {
        let outputDir = resolve(try r.string("output_dir", default: RecordConfig.defaultOutputDir), relativeTo: r.file)
        var c = RecordConfig(file: r.file, outputDir: outputDir)
        c.apiPort = try r.int("api_port", default: 17000, range: 1...65535)
        c.bind = try r.string("bind", default: "127.0.0.1")
        c.apiTokenProfile = try r.string("api_token_profile")
        c.minFreeMB = try r.int("min_free_mb", default: 200, range: 0...100_000_000)
        if let s = try r.table("sftp") {
            let profile = try s.requiredString("credential_profile")
            c.sftp = SFTPConfig(
                host: try s.requiredString("host"),
                port: try s.int("port", default: 22, range: 1...65535),
                username: try s.requiredString("username"),
                credentialProfile: profile,
                remoteDir: try s.string("remote_dir", default: "."),
                knownHosts: try s.string("known_hosts", default: "~/.ssh/known_hosts")
            )
            try s.rejectUnknownKeys()
        }
        var seen = Set<String>()
        for s in try r.tables("sessions") {
            let name = try s.requiredString("name")
            do { _ = try ShowName.validate(name) } catch let e as SAError {
                throw SAError.config("\(r.file): \(s.path).name: \(e.message)")
            }
            guard seen.insert(name).inserted else { throw SAError.config("\(r.file): session '\(name)' is defined twice") }
            let formatText = try s.string("audio_format", default: "opus")
            guard let format = AudioFormat(rawValue: formatText) else {
                throw SAError.config("\(r.file): '\(s.path).audio_format' must be 'opus' or 'aac', got '\(formatText)'")
            }
            var session = SessionConfig(name: name, url: try s.requiredString("url"), audioFormat: format,
                                        bitrate: try s.int("bitrate", default: format.defaultBitrate, range: 6...320))
            session.splitInterval = try s.int("split_interval", default: 10, range: 1...3600)
            session.retentionHours = try s.int("retention_hours", default: 168, range: 1...1_000_000)
            session.stallTimeoutSeconds = try s.int("stall_timeout_seconds", default: 30, range: 1...3600)
            session.opusComplexity = try s.int("opus_complexity", default: SessionConfig.defaultOpusComplexity, range: 0...10)
            session.caFile = try s.string("ca_file").map { ConfigLoader.resolve($0, relativeTo: r.file) }
            if let ca = session.caFile, !FileManager.default.isReadableFile(atPath: ca) {
                throw SAError.config("\(r.file): '\(s.path).ca_file' \(ca) cannot be read")
            }
            guard let sched = try s.table("schedule") else {
                throw SAError.config("\(r.file): '\(s.path).schedule' is required (record_start, record_end)")
            }
            session.window = try parseWindow(sched)
            try sched.rejectUnknownKeys()
            try s.rejectUnknownKeys()
            c.sessions.append(session)
        }
        try r.rejectUnknownKeys()
        return c
    }

    static func parseWindow(_ t: TOMLReader) throws -> DailyWindow {
        func time(_ key: String) throws -> TimeOfDay {
            let text = try t.requiredString(key)
            guard let v = TimeOfDay(parsing: text) else {
                throw SAError.config("\(t.file): '\(t.path).\(key)' must be HH:MM (24-hour), got '\(text)'")
            }
            return v
        }
        let start = try time("record_start")
        let end = try time("record_end")
        let tzName = try t.string("timezone", default: "UTC")
        guard let tz = TimeZone(identifier: tzName) else {
            throw SAError.config("\(t.file): '\(t.path).timezone' is not a known time zone: '\(tzName)' (use Area/City)")
        }
        do {
            return try DailyWindow(start: start, end: end, timeZone: tz)
        } catch let e as SAError {
            throw SAError.config("\(t.file): \(t.path): \(e.message)")
        }
    }

    static func parseEpisode(_ e: TOMLReader) throws -> EpisodeSlot {
        let name = try e.requiredString("name")
        guard !name.isEmpty, name.count <= 100, !name.contains(where: { $0.isNewline || $0 == "/" }) else {
            throw SAError.config("\(e.file): '\(e.path).name' must be 1 to 100 characters, without '/' or line breaks")
        }
        func time(_ key: String) throws -> TimeOfDay {
            let text = try e.requiredString(key)
            guard let t = TimeOfDay(parsing: text) else { throw SAError.config("\(e.file): '\(e.path).\(key)' must be HH:MM or HH:MM:SS, got '\(text)'") }
            return t
        }
        let from = try time("from"), to = try time("to")
        let zoneName = try e.string("timezone", default: "UTC")
        guard let zone = TimeZone(identifier: zoneName) else { throw SAError.config("\(e.file): '\(e.path).timezone': unknown time zone '\(zoneName)'") }
        try e.rejectUnknownKeys()
        guard from != to else { throw SAError.config("\(e.file): '\(e.path)' starts and ends at \(from)") }
        return EpisodeSlot(name: name, from: from, to: to, timeZone: zone)
    }

    static func parseReceiver(_ r: TOMLReader) throws -> ReceiverConfig {
        var c = ReceiverConfig(file: r.file, remoteURL: try r.requiredString("remote_url"))
        if let raw = r.raw("shows") {
            guard let arr = raw.array else { throw SAError.config("\(r.file): 'shows' must be a list of names or [[shows]] tables") }
            var shows: [ReceiverShow] = []
            for (i, item) in arr.enumerated() {
                if let name = item.string {
                    shows.append(ReceiverShow(name: try validated(name, r, "shows[\(i)]")))
                } else if let t = item.table {
                    let s = TOMLReader(table: t, file: r.file, path: "shows[\(i)]")
                    let name = try validated(try s.requiredString("name"), r, "shows[\(i)].name")
                    var show = ReceiverShow(name: name, retentionHours: try s.int("retention_hours", range: 1...1_000_000))
                    show.feedTokenProfile = try s.string("feed_token_profile")
                    show.episodes = try s.tables("episodes").map(parseEpisode)
                    if Set(show.episodes.map(\.name)).count != show.episodes.count {
                        throw SAError.config("\(r.file): 'shows[\(i)].episodes' has two slots of the same name")
                    }
                    shows.append(show)
                    try s.rejectUnknownKeys()
                } else {
                    throw SAError.config("\(r.file): 'shows[\(i)]' must be a show name or a table with 'name'")
                }
            }
            c.shows = shows
        }
        c.port = try r.int("port", default: 18000, range: 1...65535)
        c.bind = try r.string("bind", default: "127.0.0.1")
        c.syncIntervalSeconds = try r.int("sync_interval_seconds", default: 60, range: 1...604_800)
        c.chunkSize = try r.int("chunk_size", default: 100, range: 1...1000)
        c.apiTokenProfile = try r.string("api_token_profile")
        if let db = try r.table("database") {
            c.databaseURL = try db.string("url", default: c.databaseURL)
            c.databaseCredentialProfile = try db.string("credential_profile")
            c.databasePrefix = try db.string("prefix", default: "show")
            try db.rejectUnknownKeys()
        }
        // Checked byte by byte: a regular expression's `$` also matches before a final newline.
        let prefixOK = (1...16).contains(c.databasePrefix.utf8.count)
            && c.databasePrefix.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        guard prefixOK else {
            throw SAError.config("\(r.file): 'database.prefix' must be 1 to 16 characters from a-z, 0-9 and '_'")
        }
        try r.rejectUnknownKeys()
        return c
    }

    private static func validated(_ name: String, _ r: TOMLReader, _ where_: String) throws -> String {
        do { return try ShowName.validate(name) } catch let e as SAError {
            throw SAError.config("\(r.file): \(where_): \(e.message)")
        }
    }
}
