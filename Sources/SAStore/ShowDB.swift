import Foundation
import SACommon

/// A section's segments without their audio.
public typealias TimelineEntry = (id: Int64, timestampMs: Int64, durationSamples: Int64)

/// One show database, whoever holds it: a recorder's SQLite file, a receiver's PostgreSQL
/// database or a receiver's SQLite file. Every statement on the show tables is written once,
/// here, and runs on either backend through `SQLExecutor`. This is where the segment table is
/// read and written.
public final class ShowDB {
    public let executor: any SQLExecutor
    /// Sections this connection already inserted (the recorder's commit path).
    private var sectionInserted: Set<Int64> = []

    public init(_ executor: any SQLExecutor) { self.executor = executor }

    public var location: String { executor.location }
    public var isUsable: Bool { executor.isUsable }

    /// The statements whose text more than one method runs.
    enum SQL {
        static let setMetadata =
            "INSERT INTO metadata (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        static let sections = """
            SELECT s.id, s.start_timestamp_ms, s.is_open, s.end_timestamp_ms, s.finish_reason,
                   min(g.id), max(g.id), count(g.id), CAST(coalesce(sum(g.duration_samples), 0) AS BIGINT)
            FROM sections s LEFT JOIN segments g ON g.section_id = s.id
            """
        static let segmentColumns = "id, timestamp_ms, is_timestamp_from_source, section_id, duration_samples, audio_data"
        /// On a receiver a section arrives (or comes again) open; `markComplete` closes it once
        /// the recorder has closed it and its last segment is here. `reported` is cleared when the
        /// recorder's last segment of it changed, so a section that grew is reported again.
        static let upsertSection = """
            INSERT INTO sections (id, start_timestamp_ms, is_open, end_timestamp_ms, finish_reason, source_is_open, last_segment_id, reported)
            VALUES ($1, $2, 1, $4, $5, $3, $6, 0)
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
    }

    private static func section(_ r: any SQLRow) -> SectionInfo {
        SectionInfo(id: r.int(0), startTimestampMs: r.int(1), isOpen: r.int(2) != 0, endTimestampMs: r.optionalInt(3),
                    finishReason: r.text(4), firstSegmentID: r.optionalInt(5), lastSegmentID: r.optionalInt(6),
                    segments: r.int(7), durationSamples: r.int(8))
    }

    private static func segment(_ r: any SQLRow) -> SegmentRecord {
        SegmentRecord(id: r.int(0), timestampMs: r.int(1), isTimestampFromSource: r.int(2) != 0, sectionID: r.int(3),
                      durationSamples: r.int(4), audio: r.blob(5))
    }

    private static func title(_ r: any SQLRow) -> TitleRecord {
        TitleRecord(id: r.int(0), sectionID: r.int(1), timestampMs: r.int(2), title: r.text(3) ?? "")
    }

    static var nowMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: Metadata

    public func metadata() throws -> [String: String] {
        var out: [String: String] = [:]
        try executor.query("SELECT key, value FROM metadata", []) { out[$0.text(0) ?? ""] = $0.text(1) ?? "" }
        return out
    }

    public func metadata(_ key: String) throws -> String? {
        try executor.first("SELECT value FROM metadata WHERE key = $1", [.text(key)]) { $0.text(0) } ?? nil
    }

    /// Sets the pairs in one transaction.
    public func setMetadata(_ pairs: [(String, String)]) throws {
        try executor.transaction {
            for (k, v) in pairs { try executor.run(SQL.setMetadata, [.text(k), .text(v)]) }
        }
    }

    public var isRecipient: Bool { (try? metadata(MetaKey.isRecipient)) == "true" }

    /// Samples per second of the stored audio: the metadata's, else the format's.
    public func sampleRate() throws -> Int64 {
        let meta = try metadata()
        return AudioFormat.sampleRate(stored: meta[MetaKey.sampleRate], format: meta[MetaKey.audioFormat])
    }

    /// Whether the executor's database is one of ours: its metadata names it.
    /// Throws only when the database cannot be read at all; a `metadata` table of another
    /// shape is simply not ours.
    public static func isShowDatabase(_ executor: any SQLExecutor) throws -> Bool {
        guard try executor.tableExists("metadata") else { return false }
        return (try? executor.first("SELECT count(*) FROM metadata WHERE key IN ('unique_id', 'audio_format')", []) { $0.int(0) }) == 2
    }

    // MARK: Reading sections and segments

    public func sections() throws -> [SectionInfo] {
        try executor.rows(SQL.sections + " GROUP BY s.id ORDER BY s.id", [], ShowDB.section)
    }

    public func section(_ id: Int64) throws -> SectionInfo? {
        try executor.first(SQL.sections + " WHERE s.id = $1 GROUP BY s.id", [.int(id)], ShowDB.section)
    }

    /// Section count, open sections and sections ended by a failure (the recorder's reconnects).
    public func sectionCounts() throws -> (sections: Int64, open: Int64, reconnects: Int64) {
        try executor.first("""
            SELECT count(*), CAST(coalesce(sum(is_open), 0) AS BIGINT),
                   CAST(coalesce(sum(CASE WHEN finish_reason IN ('stream_ended', 'stalled', 'error') THEN 1 ELSE 0 END), 0) AS BIGINT)
            FROM sections
            """, []) { ($0.int(0), $0.int(1), $0.int(2)) } ?? (0, 0, 0)
    }

    /// When the newest stored audio ends (ms since the epoch), nil without segments.
    public func newestAudioEndMs(sampleRate: Int64) throws -> Int64? {
        try executor.first("SELECT timestamp_ms, duration_samples FROM segments ORDER BY id DESC LIMIT 1", []) {
            $0.int(0) + $0.int(1) * 1000 / max(sampleRate, 1)
        }
    }

    /// Whether the section's first segment is a natural boundary (is_timestamp_from_source = 1).
    public func startsAtBoundary(_ id: Int64) throws -> Bool {
        try executor.first("SELECT is_timestamp_from_source FROM segments WHERE section_id = $1 ORDER BY id LIMIT 1", [.int(id)]) {
            $0.int(0)
        } == 1
    }

    /// Streams the section's segments in id order, a batch per query (one query each, audio
    /// included), so memory stays flat however long the section is; only ids in
    /// `fromID...throughID` when given.
    public func forEachSegment(section: Int64, fromID: Int64 = 0, throughID: Int64 = .max, _ body: (SegmentRecord) throws -> Void) throws {
        var after = fromID - 1
        while true {
            let batch = try executor.rows("""
                SELECT \(SQL.segmentColumns) FROM segments WHERE section_id = $1 AND id > $2 AND id <= $3 ORDER BY id LIMIT 64
                """, [.int(section), .int(after), .int(throughID)], ShowDB.segment)
            for s in batch { try body(s) }
            guard batch.count == 64, let last = batch.last else { return }
            after = last.id
        }
    }

    /// Segments with ids in `startID...endID`, at most `limit` (the sync API's batches).
    public func segments(startID: Int64, endID: Int64, limit: Int) throws -> [SegmentRecord] {
        try executor.rows("SELECT \(SQL.segmentColumns) FROM segments WHERE id >= $1 AND id <= $2 ORDER BY id LIMIT $3",
                          [.int(startID), .int(endID), .int(Int64(limit))], ShowDB.segment)
    }

    /// One segment with its audio, or nil.
    public func segment(_ id: Int64) throws -> SegmentRecord? {
        try executor.first("SELECT \(SQL.segmentColumns) FROM segments WHERE id = $1", [.int(id)], ShowDB.segment)
    }

    /// The section's segments without their audio, in id order.
    public func timeline(section: Int64) throws -> [TimelineEntry] {
        try executor.rows("SELECT id, timestamp_ms, duration_samples FROM segments WHERE section_id = $1 ORDER BY id", [.int(section)]) {
            (id: $0.int(0), timestampMs: $0.int(1), durationSamples: $0.int(2))
        }
    }

    public func idRange() throws -> (min: Int64?, max: Int64?) {
        try executor.first("SELECT min(id), max(id) FROM segments", []) { ($0.optionalInt(0), $0.optionalInt(1)) } ?? (nil, nil)
    }

    /// Segments and audio bytes with ids in `(afterID, throughID]`.
    public func tally(afterID: Int64, throughID: Int64) throws -> (segments: Int64, bytes: Int64) {
        try executor.first("""
            SELECT count(*), CAST(coalesce(sum(length(audio_data)), 0) AS BIGINT) FROM segments WHERE id > $1 AND id <= $2
            """, [.int(afterID), .int(throughID)]) { ($0.int(0), $0.int(1)) } ?? (0, 0)
    }

    public func titles(section: Int64) throws -> [TitleRecord] {
        try executor.rows("SELECT id, section_id, timestamp_ms, title FROM titles WHERE section_id = $1 ORDER BY timestamp_ms, id",
                          [.int(section)], ShowDB.title)
    }

    public func titles(afterID: Int64, limit: Int = 10000) throws -> [TitleRecord] {
        try executor.rows("SELECT id, section_id, timestamp_ms, title FROM titles WHERE id > $1 ORDER BY id LIMIT $2",
                          [.int(afterID), .int(Int64(limit))], ShowDB.title)
    }

    // MARK: Recording (a recorder's own database)

    /// Inserts the section (if new) and one segment in one transaction; returns the segment id.
    public func commitSegment(_ segment: SegmentRecord, section: NewSection) throws -> Int64 {
        try executor.transaction {
            if !sectionInserted.contains(section.id) {
                try executor.run("""
                    INSERT INTO sections (id, start_timestamp_ms, is_open, source_url) VALUES ($1, $2, 1, $3) ON CONFLICT (id) DO NOTHING
                    """, [.int(section.id), .int(section.startTimestampMs), .text(Redaction.userinfo(section.sourceURL))])
            }
            guard let id = try executor.first("""
                INSERT INTO segments (timestamp_ms, is_timestamp_from_source, audio_data, section_id, duration_samples)
                VALUES ($1, $2, $3, $4, $5) RETURNING id
                """, [.int(segment.timestampMs), .int(segment.isTimestampFromSource ? 1 : 0), .blob(segment.audio), .int(section.id),
                      .int(segment.durationSamples)], { $0.int(0) }) else {
                throw SAError.internalError("segment insert returned no id in \(location)")
            }
            sectionInserted.insert(section.id)
            return id
        }
    }

    public func addTitle(sectionID: Int64, timestampMs: Int64, title: String) throws {
        try executor.run("INSERT INTO titles (section_id, timestamp_ms, title) VALUES ($1, $2, $3)",
                         [.int(sectionID), .int(timestampMs), .text(title)])
    }

    public func finishSection(id: Int64, endTimestampMs: Int64, reason: String) throws {
        try executor.run("UPDATE sections SET is_open = 0, end_timestamp_ms = $1, finish_reason = $2 WHERE id = $3",
                         [.int(endTimestampMs), .text(reason), .int(id)])
    }

    /// Marks sections left open by a recorder that died (kill -9, power loss) as finished.
    /// Only called while holding the show lock, so no live recorder owns them.
    @discardableResult
    public func closeAbandonedSections() throws -> Int {
        let open = try executor.first("SELECT count(*) FROM sections WHERE is_open = 1", []) { $0.int(0) } ?? 0
        if open > 0 {
            try executor.run("""
                UPDATE sections SET is_open = 0, finish_reason = 'interrupted',
                  end_timestamp_ms = (SELECT max(s.timestamp_ms) FROM segments s WHERE s.section_id = sections.id)
                WHERE is_open = 1
                """)
        }
        return Int(open)
    }

    // MARK: Receiving (a receiver's copy)

    /// Stores the recorder's view of these sections (closed or not, and its last segment id,
    /// shifted by `segmentIDOffset` into local ids); a section stays open here until complete.
    public func upsertSections(_ sections: [SectionInfo], segmentIDOffset: Int64) throws {
        guard !sections.isEmpty else { return }
        try executor.transaction {
            for s in sections {
                try executor.run(SQL.upsertSection, [
                    .int(s.id), .int(s.startTimestampMs), .int(s.isOpen ? 1 : 0), s.endTimestampMs.map { .int($0) } ?? .null,
                    s.finishReason.map { .text($0) } ?? .null, s.lastSegmentID.map { .int($0 + segmentIDOffset) } ?? .null,
                ])
            }
            try executor.run(SQL.markComplete)
        }
    }

    /// Inserts the segments and moves `last_synced_id`, all in one transaction, and marks the
    /// sections this chunk completed.
    public func commitChunk(_ segments: [SegmentRecord], lastSyncedID: Int64) throws {
        try executor.transaction {
            if !segments.isEmpty {
                try executor.bulkInsert(table: "segments", columns: ["id", "timestamp_ms", "is_timestamp_from_source", "audio_data",
                                                                     "section_id", "duration_samples"], rows: segments.count) { i in
                    let s = segments[i]
                    return [.int(s.id), .int(s.timestampMs), .int(s.isTimestampFromSource ? 1 : 0), .blob(s.audio), .int(s.sectionID),
                            .int(s.durationSamples)]
                }
            }
            try executor.run(SQL.setMetadata, [.text(MetaKey.lastSyncedID), .text(String(lastSyncedID))])
            try executor.run(SQL.markComplete)
        }
    }

    /// Inserts titles (whose sections are held here) and moves `titles_synced_id`, in one transaction.
    public func insertTitles(_ titles: [TitleRecord], titlesSyncedID: Int64) throws {
        try executor.transaction {
            for t in titles {
                try executor.run("""
                    INSERT INTO titles (id, section_id, timestamp_ms, title) SELECT $1, $2, $3, $4
                    WHERE EXISTS (SELECT 1 FROM sections WHERE id = $2) ON CONFLICT (id) DO NOTHING
                    """, [.int(t.id), .int(t.sectionID), .int(t.timestampMs), .text(t.title)])
            }
            try executor.run(SQL.setMetadata, [.text(MetaKey.titlesSyncedID), .text(String(titlesSyncedID))])
        }
    }

    public func maxTitleID() throws -> Int64 {
        try executor.first("SELECT coalesce(max(id), 0) FROM titles", []) { $0.int(0) } ?? 0
    }

    public func maxSegmentID() throws -> Int64 {
        try executor.first("SELECT coalesce(max(id), 0) FROM segments", []) { $0.int(0) } ?? 0
    }

    public func maxSectionID() throws -> Int64? {
        try executor.first("SELECT max(id) FROM sections", []) { $0.optionalInt(0) } ?? nil
    }

    public func sectionIDs() throws -> Set<Int64> {
        Set(try executor.rows("SELECT id FROM sections", []) { $0.int(0) })
    }

    /// Sections not known to be complete here (open, or held since before completeness was recorded).
    public func incompleteSectionIDs() throws -> [Int64] {
        try executor.rows("SELECT id FROM sections WHERE is_open = 1 OR last_segment_id IS NULL ORDER BY id", []) { $0.int(0) }
    }

    /// Complete sections no `section_synced` record was written for yet.
    public func unreportedCompleteSections() throws -> [SectionSummary] {
        try executor.rows("""
            SELECT s.id, s.start_timestamp_ms, count(g.id), CAST(coalesce(sum(g.duration_samples), 0) AS BIGINT)
            FROM sections s LEFT JOIN segments g ON g.section_id = s.id
            WHERE s.is_open = 0 AND s.reported = 0 GROUP BY s.id, s.start_timestamp_ms ORDER BY s.id
            """, []) { SectionSummary(id: $0.int(0), startTimestampMs: $0.int(1), segments: $0.int(2), durationSamples: $0.int(3)) }
    }

    public func markReported(_ ids: [Int64]) throws {
        try runForEach("UPDATE sections SET reported = 1 WHERE id = $1", ids)
    }

    /// Runs `sql` once per id (its `$1`), all in one transaction.
    private func runForEach(_ sql: String, _ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try executor.transaction {
            for id in ids { try executor.run(sql, [.int(id)]) }
        }
    }

    /// Takes the per-show sync lock; false when another sync holds it.
    public func tryLock() throws -> Bool { try executor.tryLockSync() }
    public func unlock() { executor.unlockSync() }

    // MARK: Export and archive bookkeeping

    /// Records that a finished section was exported holding `durationSamples` of audio.
    public func recordExport(section: Int64, filePath: String, format: String, bytes: Int64, sha256: String, durationSamples: Int64) throws {
        try executor.run("""
            INSERT INTO exports (section_id, file_path, format, bytes, sha256, exported_at_ms, duration_samples) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (section_id) DO UPDATE SET file_path = excluded.file_path, format = excluded.format,
              bytes = excluded.bytes, sha256 = excluded.sha256, exported_at_ms = excluded.exported_at_ms,
              duration_samples = excluded.duration_samples
            """, [.int(section), .text(filePath), .text(format), .int(bytes), .text(sha256), .int(ShowDB.nowMs), .int(durationSamples)])
    }

    /// Exported sections and the audio their files hold (-1 when an older version did not say).
    public func exportedDurations() throws -> [Int64: Int64] {
        var out: [Int64: Int64] = [:]
        try executor.query("SELECT section_id, coalesce(duration_samples, -1) FROM exports", []) { out[$0.int(0)] = $0.int(1) }
        return out
    }

    public func recordPush(section: Int64, filePath: String, remotePath: String, host: String, bytes: Int64, sha256: String) throws {
        try executor.run("""
            INSERT INTO pushes (section_id, file_path, remote_path, host, bytes, sha256, pushed_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (section_id) DO UPDATE SET file_path = excluded.file_path, remote_path = excluded.remote_path,
              host = excluded.host, bytes = excluded.bytes, sha256 = excluded.sha256, pushed_at_ms = excluded.pushed_at_ms
            """, [.int(section), .text(filePath), .text(remotePath), .text(host), .int(bytes), .text(sha256), .int(ShowDB.nowMs)])
    }

    public func pushedSectionIDs() throws -> Set<Int64> {
        Set(try executor.rows("SELECT section_id FROM pushes", []) { $0.int(0) })
    }

    // MARK: Retention

    /// Audio bytes and segment count of sections, for retention reports.
    public func sizes(of sections: [Int64]) throws -> (segments: Int64, bytes: Int64) {
        var n: Int64 = 0, b: Int64 = 0
        for id in sections {
            try executor.query("""
                SELECT count(*), CAST(coalesce(sum(length(audio_data)), 0) AS BIGINT) FROM segments WHERE section_id = $1
                """, [.int(id)]) { r in
                n += r.int(0)
                b += r.int(1)
            }
        }
        return (n, b)
    }

    /// Deletes the sections (and by cascade their segments and titles) in one transaction.
    public func deleteSections(_ ids: [Int64]) throws {
        try runForEach("DELETE FROM sections WHERE id = $1", ids)
    }

    /// Gives the freed space back (SQLite: incremental vacuum and checkpoint; PostgreSQL: VACUUM).
    public func reclaimSpace() throws { try executor.reclaimSpace() }
}
