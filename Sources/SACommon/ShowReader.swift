import Foundation

/// A section as the recorder's API describes it.
public struct SectionInfo: Sendable, Equatable {
    public var id: Int64
    public var startTimestampMs: Int64
    public var isOpen: Bool
    public var endTimestampMs: Int64?
    public var finishReason: String?
    public var firstSegmentID: Int64?
    public var lastSegmentID: Int64?
    public var segments: Int64
    public var durationSamples: Int64

    public init(id: Int64, startTimestampMs: Int64, isOpen: Bool, endTimestampMs: Int64?, finishReason: String?,
                firstSegmentID: Int64?, lastSegmentID: Int64?, segments: Int64, durationSamples: Int64) {
        self.id = id
        self.startTimestampMs = startTimestampMs
        self.isOpen = isOpen
        self.endTimestampMs = endTimestampMs
        self.finishReason = finishReason
        self.firstSegmentID = firstSegmentID
        self.lastSegmentID = lastSegmentID
        self.segments = segments
        self.durationSamples = durationSamples
    }

    public var json: JSONValue {
        .object([("id", .int(id)), ("start_timestamp_ms", .int(startTimestampMs)), ("is_open", .bool(isOpen)),
                 ("end_timestamp_ms", endTimestampMs.map { .int($0) } ?? .null),
                 ("finish_reason", finishReason.map { .string($0) } ?? .null),
                 ("first_segment_id", firstSegmentID.map { .int($0) } ?? .null),
                 ("last_segment_id", lastSegmentID.map { .int($0) } ?? .null),
                 ("segments", .int(segments)), ("duration_samples", .int(durationSamples))])
    }

    public init(json v: JSONValue) throws {
        guard let id = v["id"]?.intValue, let start = v["start_timestamp_ms"]?.intValue else {
            throw SAError(.dataError, code: "bad_response", "a section without id or start_timestamp_ms")
        }
        self.init(id: id, startTimestampMs: start, isOpen: v["is_open"]?.boolValue ?? false,
                  endTimestampMs: v["end_timestamp_ms"]?.intValue, finishReason: v["finish_reason"]?.stringValue,
                  firstSegmentID: v["first_segment_id"]?.intValue, lastSegmentID: v["last_segment_id"]?.intValue,
                  segments: v["segments"]?.intValue ?? 0, durationSamples: v["duration_samples"]?.intValue ?? 0)
    }
}

public struct TitleRecord: Sendable, Equatable {
    public var id: Int64
    public var sectionID: Int64
    public var timestampMs: Int64
    public var title: String

    public init(id: Int64, sectionID: Int64, timestampMs: Int64, title: String) {
        self.id = id
        self.sectionID = sectionID
        self.timestampMs = timestampMs
        self.title = title
    }

    public var json: JSONValue {
        .object([("id", .int(id)), ("section_id", .int(sectionID)), ("timestamp_ms", .int(timestampMs)), ("title", .string(title))])
    }
}

/// Read-only queries over one show database (recorder side), for the sync API: what
/// `SQLiteShowDatabase` answers, plus id ranges, segment batches and titles after an id.
public final class ShowReader {
    public let store: SQLiteShowStore
    public let name: String
    private let database: SQLiteShowDatabase

    public init(path: String, name: String? = nil) throws {
        store = try SQLiteShowStore(path: path, readOnly: true)
        database = SQLiteShowDatabase(store: store)
        self.name = name ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    public var db: SQLiteDatabase { store.db }

    public func metadata() throws -> [String: String] { try store.allMetadata() }

    public func idRange() throws -> (min: Int64?, max: Int64?) {
        let s = try db.prepare("SELECT min(id), max(id) FROM segments")
        _ = try s.step()
        return (s.value(0).int, s.value(1).int)
    }

    public func sections() throws -> [SectionInfo] { try database.sections() }

    public func newestAudioEndMs(sampleRate: Int64) throws -> Int64? { try database.newestAudioEndMs(sampleRate: sampleRate) }

    public func segments(startID: Int64, endID: Int64, limit: Int) throws -> [SegmentRecord] {
        let s = try db.prepare("""
            SELECT id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples, audio_data
            FROM segments WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?
            """)
        try s.bind([.int(startID), .int(endID), .int(Int64(limit))])
        var out: [SegmentRecord] = []
        while try s.step() {
            guard case .blob(let audio) = s.value(5) else { continue }
            out.append(SegmentRecord(id: s.int(0), timestampMs: s.int(1), isTimestampFromSource: s.int(2),
                                     sectionID: s.int(3), durationSamples: s.int(4), audio: audio))
        }
        return out
    }

    public func titles(afterID: Int64, limit: Int = 10000) throws -> [TitleRecord] {
        let s = try db.prepare("SELECT id, section_id, timestamp_ms, title FROM titles WHERE id > ? ORDER BY id LIMIT ?")
        try s.bind([.int(afterID), .int(Int64(limit))])
        var out: [TitleRecord] = []
        while try s.step() {
            out.append(TitleRecord(id: s.int(0), sectionID: s.int(1), timestampMs: s.int(2), title: s.text(3) ?? ""))
        }
        return out
    }
}
