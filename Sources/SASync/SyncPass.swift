import Foundation
import Logging
import SACommon
import SAStore
import SAStorePostgres

/// One sync pass (the original save_audio_stream's `--sync-only`): for each show in order, validate the remote
/// metadata against the local copy, then copy sections, segments (in chunks, each committed
/// together with the new `last_synced_id`) and titles.
public final class SyncPass {
    public struct Options {
        public var keepGoing = false
        public var replaceSource: Set<String> = []
        public var onlyShows: [String] = []
        public var progress = false
        public init() {}
    }

    public let config: ReceiverConfig
    public let remote: RemoteRecorder
    let location: ReceiverStoreLocation
    let password: String?
    let output: JSONLineWriter
    let options: Options
    let log = SALog.logger("sa-pull")

    public init(config: ReceiverConfig, credentials: Credentials, output: JSONLineWriter = .stdout, options: Options = Options()) throws {
        self.config = config
        self.output = output
        self.options = options
        (location, password) = try config.store(credentials: credentials)
        let token = try config.apiTokenProfile.map { try credentials.require(.api, profile: $0, field: "token") }
        remote = try RemoteRecorder(baseURL: config.remoteURL, token: token)
    }

    /// Runs the pass; returns the exit status (errors are reported as `error` records).
    public func run() -> ExitStatus {
        let names: [String]
        do {
            names = try showNames()
        } catch {
            return report(SAError.from(error), show: nil)
        }
        var worst = ExitStatus.ok
        for name in names {
            do {
                try syncShow(name)
            } catch let e as SAError where e.code == .notRecordedYet {
                // Configured on both sides, before its first window: nothing to do, no alarm.
                output.write(.object([("type", "show_synced"), ("show", .string(name)), ("db", .null), ("from_id", .null),
                                      ("to_id", .null), ("segments", 0), ("bytes", 0), ("status", "not_recorded_yet")]))
                log.info("\(name): \(e.message)")
            } catch {
                let status = report(SAError.from(error), show: name)
                if !options.keepGoing { return status }
                worst = .someFailed
            }
        }
        return worst
    }

    private func report(_ e: SAError, show: String?) -> ExitStatus {
        var err = e
        if let show, !err.context.contains(where: { $0.0 == "show" }) { err.context.insert(("show", .string(show)), at: 0) }
        output.write(err.record)
        fputs(Redaction.userinfo("sa-pull: error: \(show.map { "\($0): " } ?? "")\(err.message)") + "\n", stderr)
        return err.exitStatus
    }

    func showNames() throws -> [String] {
        var names: [String]
        if let configured = config.shows {
            names = configured.map(\.name)
        } else {
            names = try remote.shows()
        }
        if !options.onlyShows.isEmpty {
            for s in options.onlyShows where !names.contains(s) {
                throw SAError.usage("show '\(s)' is not among the shows to pull (\(names.joined(separator: ", ")))")
            }
            names = names.filter { options.onlyShows.contains($0) }
        }
        for s in options.replaceSource where !names.contains(s) {
            throw SAError.usage("--replace-source \(s): not among the shows to pull")
        }
        return names
    }

    public func syncShow(_ show: String) throws {
        let meta = try remote.metadata(show: show)
        let remoteUnique = meta["unique_id"]?.stringValue ?? ""
        let remoteFormat = meta["audio_format"]?.stringValue ?? ""
        let remoteBitrate = meta["bitrate"]?.stringValue ?? meta["bitrate"]?.intValue.map(String.init) ?? ""
        if meta["is_recipient"]?.boolValue == true || meta["is_recipient"]?.stringValue == "true" {
            throw SAError(.forbidden, "the remote database of \(show) is a recipient database; it is never pulled from")
        }
        guard !remoteUnique.isEmpty, !remoteFormat.isEmpty else {
            throw SAError(.badResponse, "metadata of \(show) lacks unique_id or audio_format")
        }
        let delayText = meta["encoder_delay_samples"]?.stringValue ?? meta["encoder_delay_samples"]?.intValue.map(String.init) ?? "0"
        guard let delay = Int(delayText), (0...65535).contains(delay) else {
            throw SAError(.badRecord, "metadata of \(show): encoder_delay_samples '\(delayText)' is not 0 to 65535")
        }
        let maxID = meta["max_id"]?.intValue
        let minID = meta["min_id"]?.intValue

        let db = try location.open(show: show, prefix: config.databasePrefix, password: password)
        guard try db.tryLock() else {
            output.write(.object([("type", "show_synced"), ("show", .string(show)), ("db", .string(db.location)),
                                  ("from_id", .null), ("to_id", .null), ("segments", 0), ("bytes", 0), ("status", "skipped_locked")]))
            log.notice("\(show): another sync holds the lock; skipped")
            return
        }
        defer { db.unlock() }

        var local = try db.metadata()
        var last = Int64(local[MetaKey.lastSyncedID] ?? "0") ?? 0
        let remoteSections = try remote.sections(show: show)
        if let source = local[MetaKey.sourceUniqueID] {
            var diffs: [String] = []
            if local[MetaKey.audioFormat] != remoteFormat { diffs.append("audio_format local '\(local[MetaKey.audioFormat] ?? "")' vs remote '\(remoteFormat)'") }
            if local[MetaKey.bitrate] != remoteBitrate { diffs.append("bitrate local '\(local[MetaKey.bitrate] ?? "")' vs remote '\(remoteBitrate)'") }
            if options.replaceSource.contains(show) {
                guard diffs.isEmpty else {
                    throw SAError(.sourceMismatch, "show \(show): cannot replace the source: \(diffs.joined(separator: "; "))")
                }
                // Resume at the first remote section after the newest one held here. The new
                // database numbers its segments and titles from 1 again, so local ids continue
                // after the ones held here through an offset.
                let newest = try db.maxSectionID() ?? 0
                let next = remoteSections.first { $0.id > newest && $0.firstSegmentID != nil }
                last = next.map { $0.firstSegmentID! - 1 } ?? (maxID ?? last)
                let segmentOffset = max(0, try db.maxSegmentID() - last)
                let titleOffset = try db.maxTitleID()
                try db.setMetadata([(MetaKey.sourceUniqueID, remoteUnique), (MetaKey.lastSyncedID, String(last)),
                                    (MetaKey.segmentIDOffset, String(segmentOffset)), (MetaKey.titleIDOffset, String(titleOffset)),
                                    (MetaKey.titlesSyncedID, "0")])
                log.notice("\(show): source replaced (\(source) → \(remoteUnique)); resuming after segment \(last)")
                local = try db.metadata()
            } else {
                if source != remoteUnique { diffs.insert("source_unique_id local '\(source)' vs remote '\(remoteUnique)'", at: 0) }
                guard diffs.isEmpty else {
                    throw SAError(.sourceMismatch,
                                  "show \(show): metadata mismatch: \(diffs.joined(separator: "; "))"
                                      + (source != remoteUnique ? " (if the recorder's database was replaced, run with --replace-source \(show))" : ""),
                                  context: [("show", .string(show)), ("db", .string(db.location))])
                }
            }
        } else {
            try db.setMetadata([
                (MetaKey.name, show), (MetaKey.audioFormat, remoteFormat), (MetaKey.bitrate, remoteBitrate),
                (MetaKey.sampleRate, String(AudioFormat.sampleRate(stored: meta["sample_rate"]?.stringValue, format: remoteFormat))),
                (MetaKey.uniqueID, local[MetaKey.uniqueID] ?? UniqueID.make()), (MetaKey.isRecipient, "true"),
                (MetaKey.sourceUniqueID, remoteUnique), (MetaKey.lastSyncedID, "0"),
                (MetaKey.encoderDelay, String(delay)),
                (MetaKey.splitInterval, meta["split_interval"]?.stringValue ?? meta["split_interval"]?.intValue.map(String.init) ?? "10"),
            ])
            last = 0
        }

        // For monitoring, before anything can fail: where the recorder's newest audio ends, so
        // the lag (that minus the newest audio stored here) shows a pass that falls short.
        let rate = AudioFormat.sampleRate(stored: nil, format: remoteFormat)
        let recorderNewest = remoteSections.map { $0.startTimestampMs + $0.durationSamples * 1000 / rate }.max()
        if let recorderNewest { try db.setMetadata([(MetaKey.recorderNewestMs, String(recorderNewest))]) }

        // Sections: new ones with segments to come, and those not complete here yet (the
        // recorder may have closed them, or their last segments may be among the new ones).
        let segmentOffset = Int64(local[MetaKey.segmentIDOffset] ?? "0") ?? 0
        let titleOffset = Int64(local[MetaKey.titleIDOffset] ?? "0") ?? 0
        let incomplete = Set(try db.incompleteSectionIDs())
        var known = Set<Int64>()
        let wanted = remoteSections.filter { ($0.lastSegmentID ?? 0) > last || incomplete.contains($0.id) }
        try db.upsertSections(wanted, segmentIDOffset: segmentOffset)
        known.formUnion(wanted.map(\.id))
        var sectionsByID = Dictionary(remoteSections.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        // Whatever happens below, every section that is complete here and was never reported
        // is reported: from stored state, not from what this pass touched.
        var reportedAlready = false
        defer { if !reportedAlready { try? reportCompleteSections(show, db, format: remoteFormat) } }

        let fromID = last + 1
        var start = fromID
        var segments = 0
        var bytes = 0
        if let minID, minID > start {
            if last > 0 { emitGap(show, db, from: start, to: minID - 1) }
            start = minID
        }
        let target = maxID ?? 0
        let total = max(0, target - start + 1)
        // The next chunk is fetched while this one is committed: the recorder's reads and the
        // network overlap the local database's writes.
        let prefetch = Prefetch()
        defer { prefetch.wait() }
        var upcoming: Result<[SegmentRecord], any Error>?
        while start <= target {
            let chunk: [SegmentRecord]
            if let ready = upcoming {
                chunk = try ready.get()
            } else {
                chunk = try remote.segments(show: show, startID: start, endID: target, limit: config.chunkSize)
            }
            upcoming = nil
            guard let first = chunk.first, let lastInChunk = chunk.last else { break }
            if first.id > start && (last > 0 || start > fromID) { emitGap(show, db, from: start, to: first.id - 1) }
            let missing = Set(chunk.map(\.sectionID)).subtracting(known)
            if !missing.isEmpty {
                // Sections that began after the list was fetched.
                let fresh = try remote.sections(show: show)
                for s in fresh { sectionsByID[s.id] = s }
                let add = fresh.filter { missing.contains($0.id) }
                guard add.count == missing.count else {
                    throw SAError(.badResponse, "segments of \(show) refer to sections the recorder does not list")
                }
                try db.upsertSections(add, segmentIDOffset: segmentOffset)
                known.formUnion(missing)
            }
            // Only now, with this chunk's requests done: the connection is not shared.
            if lastInChunk.id < target {
                let (next, remote, limit) = (lastInChunk.id + 1, self.remote, config.chunkSize)
                prefetch.start { Result { try remote.segments(show: show, startID: next, endID: target, limit: limit) } }
            }
            let stored = segmentOffset == 0 ? chunk : chunk.map { var r = $0; r.id += segmentOffset; return r }
            try db.commitChunk(stored, lastSyncedID: lastInChunk.id)
            segments += chunk.count
            bytes += chunk.reduce(0) { $0 + $1.audio.count }
            start = lastInChunk.id + 1
            if options.progress { drawProgress(show, done: Int64(segments), total: total) }
            if lastInChunk.id < target { upcoming = prefetch.wait() }
        }
        if options.progress { fputs("\n", stderr) }
        try syncTitles(show, db, titleOffset: titleOffset, sectionsByID: &sectionsByID)

        reportedAlready = true
        try reportCompleteSections(show, db, format: remoteFormat)
        let lastSynced = Int64(try db.metadata()[MetaKey.lastSyncedID] ?? "0") ?? 0
        try db.setMetadata([(MetaKey.lastGoodPassMs, String(Int64(Date().timeIntervalSince1970 * 1000)))])
        output.write(.object([("type", "show_synced"), ("show", .string(show)), ("db", .string(db.location)),
                              ("from_id", segments > 0 ? .int(fromID) : .null), ("to_id", segments > 0 ? .int(lastSynced) : .null),
                              ("segments", .int(Int64(segments))),
                              ("bytes", .int(Int64(bytes))), ("status", segments > 0 ? "synced" : "up_to_date"),
                              ("recorder_newest_ms", recorderNewest.map { .int($0) } ?? .null)]))
    }

    /// Titles in recorder id order. A title whose section is not here yet stops the pass's
    /// titles there (the next pass copies it with its section); one whose section the recorder
    /// no longer has can never be stored and is passed over.
    private func syncTitles(_ show: String, _ db: ShowDB, titleOffset: Int64,
                            sectionsByID: inout [Int64: SectionInfo]) throws {
        let titlesSynced = Int64(try db.metadata()[MetaKey.titlesSyncedID] ?? "0") ?? 0
        let newTitles = try remote.titles(show: show, afterID: titlesSynced).sorted { $0.id < $1.id }
        guard !newTitles.isEmpty else { return }
        let held = try db.sectionIDs()
        var refreshed = false
        var store: [TitleRecord] = []
        var advanceTo = titlesSynced
        for t in newTitles {
            if held.contains(t.sectionID) {
                store.append(t)
                advanceTo = t.id
                continue
            }
            if sectionsByID[t.sectionID] == nil && !refreshed {
                for s in try remote.sections(show: show) { sectionsByID[s.id] = s }
                refreshed = true
            }
            if sectionsByID[t.sectionID] != nil { break }  // its section comes with a later pass
            advanceTo = t.id
        }
        if advanceTo > titlesSynced {
            try db.insertTitles(store.map { var t = $0; t.id += titleOffset; return t }, titlesSyncedID: advanceTo)
        }
    }

    /// One `section_synced` record per complete section not reported yet, then the mark; a
    /// crash between the two reports it again (at least once, never never).
    private func reportCompleteSections(_ show: String, _ db: ShowDB, format: String) throws {
        let rate = AudioFormat.sampleRate(stored: nil, format: format)
        let sections = try db.unreportedCompleteSections()
        for s in sections {
            output.write(.object([("type", "section_synced"), ("show", .string(show)), ("db", .string(db.location)),
                                  ("section_id", .int(s.id)), ("start_timestamp_ms", .int(s.startTimestampMs)),
                                  ("segments", .int(s.segments)), ("duration_ms", .int(s.durationSamples * 1000 / rate)),
                                  ("complete", true)]))
        }
        try db.markReported(sections.map(\.id))
    }

    private func emitGap(_ show: String, _ db: ShowDB, from: Int64, to: Int64) {
        log.warning("\(show): segments \(from)–\(to) were pruned on the recorder before they were pulled")
        output.write(.object([("type", "gap"), ("show", .string(show)), ("db", .string(db.location)),
                              ("missing_from_id", .int(from)), ("missing_to_id", .int(to)),
                              ("reason", "pruned on the recorder before it was pulled")]))
    }

    private func drawProgress(_ show: String, done: Int64, total: Int64) {
        let width = 30
        let frac = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let filled = Int(frac * Double(width))
        fputs("\r\(show) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(done)/\(total) segments", stderr)
    }
}

/// One fetch running on another thread while the caller works; `wait` returns its result.
final class Prefetch: @unchecked Sendable {
    private let group = DispatchGroup()
    private let queue = DispatchQueue(label: "save_audio_stream.prefetch")
    private var result: Result<[SegmentRecord], any Error>?

    func start(_ body: @escaping @Sendable () -> Result<[SegmentRecord], any Error>) {
        group.enter()
        queue.async { [self] in
            result = body()
            group.leave()
        }
    }

    /// The running fetch's result (nil when none ran since the last wait).
    @discardableResult
    func wait() -> Result<[SegmentRecord], any Error>? {
        group.wait()
        defer { result = nil }
        return result
    }
}
