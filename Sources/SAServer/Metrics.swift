import Foundation
import SACommon
import SAStore

/// The Prometheus text exposition format (version 0.0.4): families with HELP and TYPE, samples
/// with escaped label values.
struct PrometheusText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    private(set) var text = ""

    enum Kind: String { case gauge, counter }

    /// One family; samples are (labels, value) pairs and a family without samples is left out.
    mutating func family(_ name: String, _ kind: Kind, _ help: String, _ samples: [([(String, String)], Double)]) {
        guard !samples.isEmpty else { return }
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(kind.rawValue)\n"
        for (labels, value) in samples {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.map { "\($0.0)=\"\(PrometheusText.escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " " + PrometheusText.format(value) + "\n"
        }
    }

    static func escape(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.3f", v)
    }
}

/// What the recorder's databases and locks say about each show, for `/metrics` and
/// `/api/health` on sa-serve (a separate process from sa-record: everything is read from the
/// show databases and the kernel's lock table, nothing is shared in memory).
public final class RecorderMonitor: @unchecked Sendable {
    let source: ShowSource
    let sessions: [SessionConfig]
    let lockDirectory: String
    let started = Date()
    private let lock = NSLock()
    /// Segment count and bytes per show, kept up to date by reading only new rows while the
    /// oldest id stays the same (a prune starts the count afresh).
    private var tallies: [String: (minID: Int64, maxID: Int64, segments: Int64, bytes: Int64)] = [:]

    public init(source: ShowSource, sessions: [SessionConfig]) {
        self.source = source
        self.sessions = sessions
        switch source {
        case .directory(let dir): lockDirectory = dir
        case .single(let path, _): lockDirectory = (path as NSString).deletingLastPathComponent
        }
    }

    struct ShowState {
        var name: String
        var configured: Bool
        var recording: Bool
        var inWindow: Bool
        /// Since when a segment is expected: the window's start (or sa-serve's start, if later).
        var expectedSince: Date?
        var splitInterval: Int
        var newestEndMs: Int64?
        var segments: Int64 = 0
        var bytes: Int64 = 0
        var sections: Int64 = 0
        var openSections: Int64 = 0
        var reconnects: Int64 = 0
        var readError: String?

        /// A show inside its window that has committed nothing for two split intervals.
        func problem(now: Date) -> String? {
            guard configured, inWindow, let since = expectedSince else { return nil }
            let limit = Double(2 * splitInterval)
            guard now.timeIntervalSince(since) >= limit else { return nil }
            if let readError { return "cannot read its database: \(readError)" }
            guard let end = newestEndMs else { return "nothing recorded since its window opened \(Int(now.timeIntervalSince(since))) s ago" }
            let age = now.timeIntervalSince1970 - Double(end) / 1000
            if age >= limit { return "no segment committed for \(Int(age)) s (split interval \(splitInterval) s)" }
            return nil
        }
    }

    func states(now: Date) -> [ShowState] {
        var byName: [String: ShowState] = [:]
        var order: [String] = []
        for s in sessions {
            let interval = s.window.flatMap { $0.window(containing: now) }
            let inWindow = s.window == nil || interval != nil
            let opened = interval?.start ?? started
            byName[s.name] = ShowState(name: s.name, configured: true, recording: false, inWindow: inWindow,
                                       expectedSince: inWindow ? max(opened, started) : nil, splitInterval: s.splitInterval)
            order.append(s.name)
        }
        for (name, path) in source.all {
            var st = byName[name] ?? ShowState(name: name, configured: false, recording: false, inWindow: false,
                                               expectedSince: nil, splitInterval: 10)
            if byName[name] == nil { order.append(name) }
            do {
                try read(name: name, path: path, into: &st)
            } catch {
                st.readError = SAError.from(error).message
            }
            byName[name] = st
        }
        for name in order where (byName[name]?.openSections ?? 0) > 0 {
            byName[name]?.recording = ShowLock.isHeld(directory: lockDirectory, show: name)
        }
        return order.compactMap { byName[$0] }
    }

    private func read(name: String, path: String, into st: inout ShowState) throws {
        let reader = try ShowDB.openFile(path, readOnly: true)
        let meta = try reader.metadata()
        if meta[MetaKey.isRecipient] == "true" { return }
        let rate = AudioFormat.sampleRate(stored: meta[MetaKey.sampleRate], format: meta[MetaKey.audioFormat])
        if !st.configured, let split = Int(meta[MetaKey.splitInterval] ?? "") { st.splitInterval = split }
        st.newestEndMs = try reader.newestAudioEndMs(sampleRate: rate)
        (st.sections, st.openSections, st.reconnects) = try reader.sectionCounts()
        let range = try reader.idRange()
        guard let minID = range.min, let maxID = range.max else {
            lock.lock()
            tallies[name] = nil
            lock.unlock()
            return
        }
        lock.lock()
        let previous = tallies[name]
        lock.unlock()
        var tally = (minID: minID, maxID: Int64(0), segments: Int64(0), bytes: Int64(0))
        if let previous, previous.minID == minID, previous.maxID <= maxID { tally = previous }
        let added = try reader.tally(afterID: tally.maxID, throughID: maxID)
        tally.segments += added.segments
        tally.bytes += added.bytes
        tally.maxID = maxID
        st.segments = tally.segments
        st.bytes = tally.bytes
        lock.lock()
        tallies[name] = tally
        lock.unlock()
    }

    public func metricsText(now: Date = Date()) -> String {
        let all = states(now: now)
        let nowS = now.timeIntervalSince1970
        var p = PrometheusText()
        func per(_ f: (ShowState) -> Double?) -> [([(String, String)], Double)] {
            all.compactMap { s in f(s).map { ([("show", s.name)], $0) } }
        }
        p.family("sa_show_recording", .gauge, "1 while a recorder process holds the show's lock and has a section open (connected and recording).",
                 per { $0.recording ? 1 : 0 })
        p.family("sa_show_in_window", .gauge, "1 while the configured show is inside its daily window (always, without one).",
                 per { $0.configured ? ($0.inWindow ? 1 : 0) : nil })
        p.family("sa_show_healthy", .gauge, "0 when the show is inside its window and has committed nothing for two split intervals.",
                 per { $0.configured ? ($0.problem(now: now) == nil ? 1 : 0) : nil })
        p.family("sa_show_last_segment_end_timestamp_seconds", .gauge, "When the newest stored segment's audio ends (Unix time).",
                 per { $0.newestEndMs.map { Double($0) / 1000 } })
        p.family("sa_show_last_segment_age_seconds", .gauge, "Seconds since the end of the newest stored segment.",
                 per { $0.newestEndMs.map { max(0, nowS - Double($0) / 1000) } })
        p.family("sa_show_reconnects", .gauge, "Stored sections that ended with a lost connection (stream ended, stalled, error; error includes a stop for low disk); falls when old sections are pruned.",
                 per { $0.readError == nil ? Double($0.reconnects) : nil })
        p.family("sa_show_segments", .gauge, "Segments stored.", per { $0.readError == nil ? Double($0.segments) : nil })
        p.family("sa_show_bytes", .gauge, "Bytes of encoded audio stored.", per { $0.readError == nil ? Double($0.bytes) : nil })
        p.family("sa_show_sections", .gauge, "Sections stored.", per { $0.readError == nil ? Double($0.sections) : nil })
        p.family("sa_show_open_sections", .gauge, "Sections still being recorded (or left open by a recorder that died).",
                 per { $0.readError == nil ? Double($0.openSections) : nil })
        p.family("sa_show_database_readable", .gauge, "0 when the show's database cannot be read.",
                 per { $0.readError == nil ? 1 : 0 })
        return p.text
    }

    private var cachedProblems: (at: Date, list: [(show: String, message: String)])?

    /// The shows that fail the health check, each with why. Kept for a second: the check needs
    /// no token and may be polled often.
    public func problems(now: Date = Date()) -> [(show: String, message: String)] {
        lock.lock()
        if let c = cachedProblems, now.timeIntervalSince(c.at) < 1, now >= c.at {
            lock.unlock()
            return c.list
        }
        lock.unlock()
        let list = states(now: now).compactMap { s in s.problem(now: now).map { (s.name, $0) } }
        lock.lock()
        cachedProblems = (now, list)
        lock.unlock()
        return list
    }
}

extension ReceiverState {
    /// The passes sa-serve ran itself (counters since it started), and per show what the
    /// databases say, which includes passes `sa-pull` ran from cron.
    public func metricsText(now: Date = Date()) -> String {
        let m = monitorFacts()
        var p = PrometheusText()
        let nowS = now.timeIntervalSince1970
        p.family("sa_receiver_passes_total", .counter, "Sync passes sa-serve ran since it started.", [([], Double(m.passes))])
        p.family("sa_receiver_pass_failures_total", .counter, "Sync passes sa-serve ran that failed (for any show) since it started.",
                 [([], Double(m.failures))])
        p.family("sa_receiver_pass_in_progress", .gauge, "1 while a sync pass of sa-serve runs.", [([], m.inProgress ? 1 : 0)])
        p.family("sa_receiver_last_good_pass_timestamp_seconds", .gauge,
                 "When sa-serve's last sync pass without error finished (Unix time; 0 before the first).",
                 [([], m.lastGood.map { $0.timeIntervalSince1970 } ?? 0)])
        p.family("sa_receiver_last_good_pass_age_seconds", .gauge,
                 "Seconds since sa-serve's last sync pass without error finished (since sa-serve started, before the first).",
                 [([], max(0, now.timeIntervalSince(m.lastGood ?? m.started)))])
        var lag: [([(String, String)], Double)] = []
        var newest: [([(String, String)], Double)] = []
        var lastGood: [([(String, String)], Double)] = []
        var up: [([(String, String)], Double)] = []
        for show in (try? showNames()) ?? [] {
            let labels = [("show", show)]
            do {
                let (meta, end) = try database(show).with { db -> ([String: String], Int64?) in
                    let meta = try db.metadata()
                    let rate = AudioFormat.sampleRate(stored: meta[MetaKey.sampleRate], format: meta[MetaKey.audioFormat])
                    return (meta, try db.newestAudioEndMs(sampleRate: max(rate, 1)))
                }
                up.append((labels, 1))
                let recorder = Int64(meta[MetaKey.recorderNewestMs] ?? "")
                if let recorder { lag.append((labels, Double(max(0, recorder - (end ?? recorder))) / 1000)) }
                if let end { newest.append((labels, max(0, nowS - Double(end) / 1000))) }
                if let good = Int64(meta[MetaKey.lastGoodPassMs] ?? "") { lastGood.append((labels, max(0, nowS - Double(good) / 1000))) }
            } catch {
                up.append((labels, 0))
            }
        }
        p.family("sa_receiver_show_lag_seconds", .gauge,
                 "Newest audio on the recorder (as the last pass saw it) minus newest audio stored here; a pass that fell short leaves it above 0.",
                 lag)
        p.family("sa_receiver_show_newest_audio_age_seconds", .gauge,
                 "Seconds since the end of the newest audio stored for the show (grows between passes and outside recording windows).",
                 newest)
        p.family("sa_receiver_show_last_good_pass_age_seconds", .gauge,
                 "Seconds since a pass (sa-serve's or sa-pull's) last synced the show without error.", lastGood)
        p.family("sa_receiver_show_errors_total", .counter, "Sync passes of sa-serve in which the show failed, since it started.",
                 m.errors.keys.sorted().map { ([("show", $0)], Double(m.errors[$0]!)) })
        p.family("sa_receiver_database_up", .gauge, "0 while the show's database cannot be read.", up)
        return p.text
    }
}
