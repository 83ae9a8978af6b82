import Foundation
import SACommon
import SAStore

/// What one export did, as the `exported` record tells it.
public struct ExportResult: Sendable {
    public var show: String
    public var db: String
    public var sectionID: Int64
    public var filePath: String
    public var format: String
    public var durationSeconds: Double
    public var bytes: Int64
    public var sha256: String
    public var status: String  // written | exists

    public var record: JSONValue {
        .object([("type", "exported"), ("show", .string(show)), ("db", .string(db)), ("section_id", .int(sectionID)),
                 ("file_path", .string(filePath)), ("format", .string(format)),
                 ("duration_seconds", .double((durationSeconds * 1000).rounded() / 1000)), ("bytes", .int(bytes)),
                 ("sha256", .string(sha256)), ("status", .string(status))])
    }
}

/// Writes one section as a playable file without re-encoding: Opus → Ogg Opus, AAC → ADTS.
/// Streams (memory does not depend on the section's length), writes under a temporary name and
/// renames, and refuses a second concurrent export of the same file with `conflict` (exit 75).
public enum SectionExporter {
    /// `{show}_{yyyymmdd_hhmmss}_{hex_section_id}.{ogg|aac}`, start time in UTC.
    public static func fileName(show: String, startTimestampMs: Int64, sectionID: Int64, format: AudioFormat) -> String {
        "\(show)_\(TimeText.format(startTimestampMs, "yyyyMMdd_HHmmss"))_\(String(sectionID, radix: 16)).\(format.fileExtension)"
    }

    static func iso(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    public static func export(database: ShowDB, sectionID: Int64, outputDir: String,
                              includeOpen: Bool = false, recordBookkeeping: Bool = true) throws -> ExportResult {
        let ctx: [(String, JSONValue)] = [("db", .string(database.location)), ("section_id", .int(sectionID))]
        let meta = try database.metadata()
        guard let format = AudioFormat(rawValue: meta[MetaKey.audioFormat] ?? "") else {
            throw SAError(.badDatabase, "\(database.location) has no valid audio_format", context: ctx)
        }
        // The name becomes part of a path: a database's metadata is input like any other.
        let show: String
        do {
            show = try ShowName.validate(meta[MetaKey.name] ?? "")
        } catch let e as SAError {
            throw SAError(.storedShowName, "\(database.location): metadata name: \(e.message)", context: ctx)
        }
        guard let section = try database.section(sectionID), section.segments > 0 else {
            throw SAError(.missing, "no section \(sectionID) with audio in \(database.location)",
                          context: [("show", .string(show))] + ctx)
        }
        if section.isOpen && !includeOpen {
            throw SAError(.openSection, "section \(sectionID) of \(show) is still being recorded; not exported (use --include-open)")
        }
        let name = fileName(show: show, startTimestampMs: section.startTimestampMs, sectionID: sectionID, format: format)
        let written = try ExportFile.write(outputDir: outputDir, name: name, show: show, context: ctx,
                                           busy: "section \(sectionID) of \(show) is being exported by another process") { sink in
            switch format {
            case .opus:
                var tags = ["TITLE=\(show) \(iso(section.startTimestampMs))", "ARTIST=\(show)", "DATE=\(iso(section.startTimestampMs))",
                            "SHOW=\(show)", "START_TIME=\(iso(section.startTimestampMs))", "SECTION_ID=\(sectionID)"]
                for t in try database.titles(section: sectionID) {
                    let offset = Double(t.timestampMs - section.startTimestampMs) / 1000
                    tags.append("ICY_TITLE=\(String(format: "%.3f", max(0, offset))) \(t.title)")
                }
                // A serial number derived from the section keeps the output reproducible.
                let serial = Int32(truncatingIfNeeded: (sectionID ^ (sectionID >> 32)) & 0x7FFF_FFFF)
                guard let preSkip = Int(meta[MetaKey.encoderDelay] ?? "312"), (0...65535).contains(preSkip) else {
                    throw SAError(.badDatabase, "\(database.location): encoder_delay_samples is not 0 to 65535", context: ctx)
                }
                let writer = try OggOpusWriter(serial: serial, preSkip: preSkip,
                                               totalSamples: section.durationSamples, tags: tags, sink: sink)
                try database.forEachSegment(section: sectionID) { seg in
                    try writer.addSegment(seg.audio, isLastSegment: seg.id == section.lastSegmentID)
                }
                try writer.finish()
            case .aac:
                try database.forEachSegment(section: sectionID) { seg in
                    try seg.audio.withUnsafeBytes { try sink($0) }
                }
            }
        }
        // Only a finished (on a receiver: complete) section is recorded as exported: the file of
        // an open one holds less audio than the section will, and must be made again.
        if recordBookkeeping && !section.isOpen {
            try database.recordExport(section: sectionID, filePath: written.path, format: format.rawValue, bytes: written.bytes, sha256: written.sha256,
                                      durationSamples: section.durationSamples)
        }
        return ExportResult(show: show, db: database.location, sectionID: sectionID, filePath: written.path, format: format.rawValue,
                            durationSeconds: Double(section.durationSamples) / Double(format.sampleRate), bytes: written.bytes,
                            sha256: written.sha256, status: written.status)
    }
}
