import Foundation
import SACommon
import SAStore

/// The part of a requested time range that one section recorded, in that section's timeline:
/// samples after the encoder delay, sample 0 at the section's start.
public struct RangePart: Sendable {
    public var section: SectionInfo
    public var fromSample: Int64
    public var toSample: Int64
    public var rate: Int64

    public var fromMs: Int64 { section.startTimestampMs + fromSample * 1000 / rate }
    public var toMs: Int64 { section.startTimestampMs + toSample * 1000 / rate }
    public var durationSeconds: Double { Double(toSample - fromSample) / Double(rate) }
}

/// What a time range holds: the recorded parts in time order, and the stretches nobody recorded.
public struct RangePlan: Sendable {
    public var show: String
    public var format: AudioFormat
    public var fromMs: Int64
    public var toMs: Int64
    public var parts: [RangePart]
    /// Samples the encoder adds before the audio (Opus pre-skip, AAC priming).
    public var delay: Int64
    /// Unrecorded stretches inside the range (before, between and after the parts), in ms.
    public var gaps: [(fromMs: Int64, toMs: Int64)]
    /// AAC cannot be cut inside a frame: its parts start and end on frame boundaries.
    public var cut: String { format == .opus ? "sample" : "frame" }
}

/// Exports any time range without re-encoding. Ogg Opus is cut sample-exactly (RFC 7845): it
/// starts at least 80 ms (4 packets) before the first wanted sample, the pre-skip discards the
/// pre-roll, and the last granule position trims the end. AAC is cut at frame boundaries. One
/// file per recorded part, named by the part's own start and length.
public enum RangeExporter {
    /// Packets of pre-roll decoded and discarded before the first wanted sample (4 × 20 ms).
    static let preRollPackets: Int64 = 4
    /// Shorter unrecorded stretches (a packet) are rounding, not gaps.
    static let gapThresholdMs: Int64 = 20

    /// The parts of `fromMs..<toMs` each section recorded (only section `onlySection`, when
    /// given). Where sections overlap (a reconnect's burst), a later part starts where the
    /// earlier one ended, so no moment is exported twice.
    public static func plan(database: ShowDB, fromMs: Int64, toMs: Int64, onlySection: Int64? = nil) throws -> RangePlan {
        try plan(Source(database), fromMs: fromMs, toMs: toMs, onlySection: onlySection)
    }

    /// What planning reads from a show database, read once for many plans (a feed's items).
    public struct Source {
        public let location: String
        public let meta: [String: String]
        public let rate: Int64
        public let sections: [SectionInfo]

        public init(_ database: ShowDB) throws {
            location = database.location
            meta = try database.metadata()
            rate = AudioFormat.sampleRate(stored: meta[MetaKey.sampleRate], format: meta[MetaKey.audioFormat])
            sections = try database.sections()
        }
    }

    public static func plan(_ source: Source, fromMs: Int64, toMs: Int64, onlySection: Int64? = nil) throws -> RangePlan {
        guard fromMs < toMs else {
            throw SAError(.badParam, "the range ends (\(TimeText.iso(toMs))) before it starts (\(TimeText.iso(fromMs)))")
        }
        let meta = source.meta
        guard let format = AudioFormat(rawValue: meta[MetaKey.audioFormat] ?? "") else {
            throw SAError(.badDatabase, "\(source.location) has no valid audio_format")
        }
        let show = try ShowName.validate(meta[MetaKey.name] ?? "")
        let rate = source.rate
        guard let delay = Int64(meta[MetaKey.encoderDelay] ?? "312"), (0...65535).contains(delay) else {
            throw SAError(.badDatabase, "\(source.location): encoder_delay_samples is not 0 to 65535")
        }
        let n = format.samplesPerPacket
        var parts: [RangePart] = []
        for s in source.sections where s.segments > 0 && (onlySection == nil || s.id == onlySection) {
            // Offsets clamped to the section first, so far-away instants cannot overflow.
            let lengthMs = s.durationSamples * 1000 / rate + 1
            let a = min(max(0, fromMs - s.startTimestampMs), lengthMs) * rate / 1000
            let b = min(s.durationSamples, min(max(0, toMs - s.startTimestampMs), lengthMs) * rate / 1000)
            guard a < b else { continue }
            var part = RangePart(section: s, fromSample: a, toSample: b, rate: rate)
            if format == .aac {
                // Whole frames: the first that holds sample a, through the one that holds b - 1.
                part.fromSample = max(0, (a + delay) / n * n - delay)
                part.toSample = min(s.durationSamples, ((b + delay + n - 1) / n) * n - delay)
            }
            parts.append(part)
        }
        parts.sort { $0.fromMs < $1.fromMs }
        var end = Int64.min
        parts = parts.compactMap { p in
            var p = p
            if p.fromMs < end {
                // Overlapped by the part before: start where it ended (AAC: at the next frame).
                var a = (end - p.section.startTimestampMs) * p.rate / 1000
                if format == .aac { a = (a + delay + n - 1) / n * n - delay }
                p.fromSample = a
            }
            guard p.fromSample < p.toSample else { return nil }
            end = max(end, p.toMs)
            return p
        }
        guard !parts.isEmpty else {
            throw SAError(.missing, "nothing of '\(show)' was recorded between \(TimeText.iso(fromMs)) and \(TimeText.iso(toMs))",
                          context: [("show", .string(show))])
        }
        var gaps: [(fromMs: Int64, toMs: Int64)] = []
        var covered = fromMs
        for p in parts {
            if p.fromMs - covered > gapThresholdMs { gaps.append((covered, p.fromMs)) }
            covered = max(covered, p.toMs)
        }
        if toMs - covered > gapThresholdMs { gaps.append((covered, toMs)) }
        return RangePlan(show: show, format: format, fromMs: fromMs, toMs: toMs, parts: parts, delay: delay, gaps: gaps)
    }

    /// `{show}_{yyyymmdd_hhmmss[.mmm]}_{seconds}s.{ogg|aac}`, start time in UTC.
    public static func fileName(show: String, part: RangePart, format: AudioFormat) -> String {
        fileName(show: show, fromMs: part.fromMs, seconds: part.durationSeconds, format: format)
    }

    static func fileName(show: String, fromMs: Int64, seconds duration: Double, format: AudioFormat) -> String {
        let stamp = TimeText.format(fromMs - fromMs % 1000, "yyyyMMdd_HHmmss") + (fromMs % 1000 == 0 ? "" : String(format: ".%03d", fromMs % 1000))
        var seconds = String(format: "%.3f", duration)
        while seconds.hasSuffix("0") { seconds.removeLast() }
        if seconds.hasSuffix(".") { seconds.removeLast() }
        return "\(show)_\(stamp)_\(seconds)s.\(format.fileExtension)"
    }

    /// Writes one part's bytes through `sink`: a complete Ogg Opus stream, or ADTS frames.
    public static func write(_ part: RangePart, plan: RangePlan, database: ShowDB,
                             sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        let delay = plan.delay
        let n = plan.format.samplesPerPacket
        // Packets are numbered from the section's first; packet p decodes samples
        // [p·n, (p+1)·n), which are timeline samples from p·n − delay.
        let wanted = (part.fromSample + delay) / n
        let first = plan.format == .opus ? max(0, wanted - preRollPackets) : wanted
        let last = (part.toSample + delay - 1) / n
        let emit: (UnsafeRawBufferPointer, Bool) throws -> Void
        var finish: () throws -> Void = {}
        switch plan.format {
        case .opus:
            var tags = ["TITLE=\(plan.show) \(TimeText.iso(part.fromMs))", "ARTIST=\(plan.show)", "DATE=\(TimeText.iso(part.fromMs))",
                        "SHOW=\(plan.show)", "START_TIME=\(TimeText.iso(part.fromMs))", "END_TIME=\(TimeText.iso(part.toMs))",
                        "SECTION_ID=\(part.section.id)"]
            for t in try titles(of: part, database: database) {
                tags.append("ICY_TITLE=\(String(format: "%.3f", Double(max(0, t.timestampMs - part.fromMs)) / 1000)) \(t.title)")
            }
            let serial = Int32(truncatingIfNeeded: (part.section.id ^ part.fromSample ^ (part.section.id >> 32)) & 0x7FFF_FFFF)
            // The pre-skip discards the encoder delay or the pre-roll: everything decoded before
            // the first wanted sample. It is below 5 packets, so it always fits in 16 bits.
            let writer = try OggOpusWriter(serial: serial, preSkip: Int(part.fromSample + delay - first * n),
                                           totalSamples: part.toSample - part.fromSample, tags: tags, sink: sink)
            emit = { packet, isLast in try writer.add(packet, last: isLast) }
            finish = { try writer.finish() }
        case .aac:
            emit = { frame, _ in try sink(frame) }
        }
        // Read only the segments that hold packets `first` through `last`: segment k starts at
        // packet (delay + the durations before it) / n, the first segment at packet 0.
        let timeline = try database.timeline(section: part.section.id)
        var startID: Int64 = 0, endID: Int64 = 0, startPacket: Int64 = 0
        var decoded: Int64 = 0
        for (k, seg) in timeline.enumerated() {
            let packetIndex = k == 0 ? 0 : (decoded + delay) / n
            decoded += seg.durationSamples
            if packetIndex > last { break }
            if packetIndex <= first { startID = seg.id; startPacket = packetIndex }
            endID = seg.id
        }
        var index = startPacket
        try database.forEachSegment(section: part.section.id, fromID: startID, throughID: endID) { seg in
            try plan.format.forEachPacket(seg.audio) { packet in
                if index >= first && index <= last { try emit(packet, index == last) }
                index += 1
            }
        }
        guard index > last else {
            throw SAError(.corrupt, "section \(part.section.id) of \(plan.show) holds fewer packets than its durations say")
        }
        try finish()
    }

    /// The titles of the part: the one playing at its start (at offset 0), then those inside it.
    public static func titles(of part: RangePart, database: ShowDB) throws -> [TitleRecord] {
        let all = try database.titles(section: part.section.id)
        var out = all.filter { $0.timestampMs > part.fromMs && $0.timestampMs < part.toMs }
        if var current = all.last(where: { $0.timestampMs <= part.fromMs }) {
            current.timestampMs = part.fromMs
            out.insert(current, at: 0)
        }
        return out
    }

    /// Exports each recorded part of the range to its own file in `outputDir`. `record` hears
    /// what was written (`exported`) and what was not recorded (`gap`), in time order, each as
    /// soon as it is known, so the files written before a failure are reported too.
    public static func export(database: ShowDB, fromMs: Int64, toMs: Int64, outputDir: String,
                              record: (JSONValue) -> Void) throws {
        let plan = try plan(database: database, fromMs: fromMs, toMs: toMs)
        var gaps = plan.gaps[...]
        func gapsBefore(_ ms: Int64) {
            while let gap = gaps.first, gap.fromMs < ms {
                record(.object([("type", "gap"), ("show", .string(plan.show)), ("db", .string(database.location)),
                                ("from", .string(TimeText.iso(gap.fromMs))), ("to", .string(TimeText.iso(gap.toMs))),
                                ("duration_seconds", .double(Double(gap.toMs - gap.fromMs) / 1000)), ("reason", "not_recorded")]))
                gaps = gaps.dropFirst()
            }
        }
        for part in plan.parts {
            gapsBefore(part.fromMs)
            let ctx: [(String, JSONValue)] = [("db", .string(database.location)), ("section_id", .int(part.section.id))]
            let name = fileName(show: plan.show, part: part, format: plan.format)
            let written = try ExportFile.write(outputDir: outputDir, name: name, show: plan.show, context: ctx,
                                               busy: "\(name) is being exported by another process") { sink in
                try write(part, plan: plan, database: database, sink: sink)
            }
            record(.object([
                ("type", "exported"), ("show", .string(plan.show)), ("db", .string(database.location)), ("section_id", .int(part.section.id)),
                ("from", .string(TimeText.iso(part.fromMs))), ("to", .string(TimeText.iso(part.toMs))),
                ("file_path", .string(written.path)), ("format", .string(plan.format.rawValue)), ("cut", .string(plan.cut)),
                ("duration_seconds", .double((part.durationSeconds * 1000).rounded() / 1000)), ("bytes", .int(written.bytes)),
                ("sha256", .string(written.sha256)), ("status", .string(written.status)),
            ]))
        }
        gapsBefore(.max)
    }

    /// The cache name of a joined file (a hash of what it holds: short for any number of parts)
    /// and the name to offer a browser (by show, start and length).
    public static func joinedNames(_ plan: RangePlan) -> (cache: String, download: String) {
        let seconds = plan.parts.reduce(0) { $0 + $1.durationSeconds }
        let download = plan.parts.count == 1 ? fileName(show: plan.show, part: plan.parts[0], format: plan.format)
                                             : fileName(show: plan.show, fromMs: plan.parts[0].fromMs, seconds: seconds, format: plan.format)
        let made = plan.parts.map { "\($0.section.id)-\($0.fromSample)-\($0.toSample)" }.joined(separator: "_")
        return ("range_\(hash(made).prefix(32)).\(plan.format.fileExtension)", download)
    }

    private static func hash(_ text: String) -> String {
        let h = SHA256Hasher()
        h.update(Array(text.utf8))
        return h.hexDigest()
    }

    /// The whole range as one file in `directory`, for HTTP: the parts one after the other
    /// (chained Ogg Opus streams, or ADTS frames), gaps left out. The file's name holds what it
    /// was made from, so an existing one is reused until a part changes. Returns its path and
    /// the name to offer a browser.
    public static func joinedFile(database: ShowDB, fromMs: Int64, toMs: Int64, onlySection: Int64? = nil,
                                  format expected: AudioFormat? = nil, directory: String) throws
        -> (path: String, downloadName: String, plan: RangePlan)
    {
        let plan = try plan(database: database, fromMs: fromMs, toMs: toMs, onlySection: onlySection)
        if let expected, expected != plan.format {
            throw SAError(.missing, "'\(plan.show)' is recorded as \(plan.format.rawValue); use range.\(plan.format.fileExtension)")
        }
        let (name, downloadName) = joinedNames(plan)
        let path = (directory as NSString).appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: path) {
            utimes(path, nil)  // recently used: kept longest when the cache is trimmed
            return (path, downloadName, plan)
        }
        _ = try ExportFile.write(outputDir: directory, name: name, show: plan.show, context: [("db", .string(database.location))],
                                 busy: "\(name) is being made by another request") { sink in
            for part in plan.parts { try write(part, plan: plan, database: database, sink: sink) }
        }
        return (path, downloadName, plan)
    }
}
