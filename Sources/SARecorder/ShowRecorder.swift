import Foundation
import Logging
import SAAudio
import SACommon
import SAStore

/// Settings of one recording job, from a `[[sessions]]` entry or the ad-hoc command line.
public struct RecordingJob: Sendable {
    public var show: String
    public var url: String
    public var format: AudioFormat
    public var bitrate: Int
    public var splitInterval: Int
    public var stallTimeoutSeconds: Int
    public var minFreeMB: Int
    public var outputDir: String
    public var opusComplexity = SessionConfig.defaultOpusComplexity
    /// Certificate authorities for https:// streams (PEM); nil: the system's store.
    public var caFile: String?

    public init(show: String, url: String, format: AudioFormat, bitrate: Int, splitInterval: Int,
                stallTimeoutSeconds: Int, minFreeMB: Int, outputDir: String) {
        self.show = show
        self.url = url
        self.format = format
        self.bitrate = bitrate
        self.splitInterval = splitInterval
        self.stallTimeoutSeconds = stallTimeoutSeconds
        self.minFreeMB = minFreeMB
        self.outputDir = outputDir
    }

    public init(session: SessionConfig, config: RecordConfig) {
        self.init(show: session.name, url: session.url, format: session.audioFormat, bitrate: session.bitrate,
                  splitInterval: session.splitInterval, stallTimeoutSeconds: session.stallTimeoutSeconds,
                  minFreeMB: config.minFreeMB, outputDir: config.outputDir)
        caFile = session.caFile
        opusComplexity = session.opusComplexity
    }
}

/// What a recording run achieved, to pick the exit status.
public struct RecordingOutcome: Sendable {
    public var sections = 0
    public var segments = 0
    public var failedAttempts = 0
    public var lastFailure: String?
    public var diskLow = false
    public var stoppedBySignal = false
    public init() {}
}

/// Backoff between attempts: 0.5 s doubling to 30 s, back to 0.5 s after a connection that
/// recorded audio. Every kind of failure goes through it, so there is never a tight loop.
public struct Backoff {
    public let initial: Double
    public let cap: Double
    public private(set) var next: Double

    public init(initial: Double = 0.5, cap: Double = 30) {
        self.initial = initial
        self.cap = cap
        next = initial
    }

    public mutating func failed() -> Double {
        let d = next
        next = min(cap, next * 2)
        return d
    }

    public mutating func succeeded() { next = initial }
}

final class Flag {
    var value = false
}

/// Records one show into its SQLite database: owns the show lock and the store.
public final class ShowRecorder {
    public let job: RecordingJob
    public let store: ShowDB
    private let lock: ShowLock
    private let output: JSONLineWriter
    private let log: Logger
    private var lastSectionID: Int64 = 0
    private let codec: OutputCodec
    private let encoderDelay: Int

    public init(job: RecordingJob, output: JSONLineWriter = .stdout) throws {
        self.job = job
        self.output = output
        log = SALog.logger("sa-record[\(job.show)]")
        codec = job.format == .opus ? .opus : .aac
        _ = try ShowName.validate(job.show)
        do {
            try FileManager.default.createDirectory(atPath: job.outputDir, withIntermediateDirectories: true)
        } catch {
            throw SAError(.cantCreate, "cannot create output directory \(job.outputDir): \(error.localizedDescription)")
        }
        let probeEncoder: any SpeechEncoder = job.format == .opus
            ? try OpusSpeechEncoder(bitrateKbps: job.bitrate) : try AACSpeechEncoder(bitrateKbps: job.bitrate)
        encoderDelay = probeEncoder.delaySamples
        try ShowRecorder.checkDisk(dir: job.outputDir, minFreeMB: job.minFreeMB)
        lock = try ShowLock.acquire(directory: job.outputDir, show: job.show)
        store = try ShowDB.openForRecording(
            outputDir: job.outputDir,
            settings: ShowSettings(name: job.show, audioFormat: job.format, bitrate: job.bitrate,
                                   splitInterval: job.splitInterval, encoderDelaySamples: encoderDelay))
        let abandoned = try store.closeAbandonedSections()
        if abandoned > 0 { log.notice("closed \(abandoned) section(s) left open by an earlier run that was killed") }
    }

    deinit { lock.release() }

    static func checkDisk(dir: String, minFreeMB: Int) throws {
        guard minFreeMB > 0, let free = DiskSpace.availableBytes(at: dir) else { return }
        if free < Int64(minFreeMB) * 1_048_576 {
            throw SAError(.diskFull,
                          "only \(free / 1_048_576) MB free in \(dir), below min_free_mb = \(minFreeMB); not recording")
        }
    }

    private var minFreeBytes: Int64 { Int64(job.minFreeMB) * 1_048_576 }

    private func newSectionID() -> Int64 {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        lastSectionID = max(now, lastSectionID + 1)
        return lastSectionID
    }

    private func makeWriter(url: String, startMs: Int64, live: Bool) throws -> SectionWriter {
        try SectionWriter(show: job.show, store: store, output: output,
                          section: NewSection(id: newSectionID(), startTimestampMs: startMs, sourceURL: url),
                          codec: codec, bitrate: job.bitrate, splitInterval: job.splitInterval,
                          opusComplexity: job.opusComplexity, minFreeBytes: minFreeBytes, log: log, anchorToArrivals: live)
    }

    /// Records from the URL until `deadline` (reason `deadlineReason`) or a stop signal,
    /// reconnecting with backoff; each connection is its own section.
    public func record(until deadline: Date?, deadlineReason: String) -> RecordingOutcome {
        var outcome = RecordingOutcome()
        var backoff = Backoff()
        let diskLow = Flag()
        let shouldStop: () -> Bool = {
            StopSignal.requested || diskLow.value || (deadline.map { Date() >= $0 } ?? false)
        }
        while !shouldStop() {
            var candidates = [job.url]
            var attemptIndex = 0
            var recorded = false
            var failure: String?
            while attemptIndex < candidates.count && !shouldStop() {
                let url = candidates[attemptIndex]
                attemptIndex += 1
                let result = recordConnection(url: url, shouldStop: shouldStop, deadlineReason: deadlineReason,
                                              diskLow: diskLow, outcome: &outcome)
                switch result {
                case .playlist(let entries):
                    if entries.isEmpty {
                        failure = "the playlist at \(url) lists no http(s) stream"
                    } else {
                        log.info("playlist \(url) lists \(entries.count) stream(s)")
                        candidates.append(contentsOf: entries)
                    }
                case .recorded(let end):
                    recorded = true
                    if case .failed(let why) = end { failure = why }
                    if end == .stalled { failure = "no data for \(job.stallTimeoutSeconds) s (stalled)" }
                    if end == .serverClosed { failure = "the server ended the stream" }
                    if case .stopped = end { failure = nil }
                    attemptIndex = candidates.count  // stay with the working entry next time
                case .failed(let why):
                    failure = why
                }
                if recorded { break }
            }
            if shouldStop() { break }
            if recorded { backoff.succeeded() } else { outcome.failedAttempts += 1 }
            if let failure { outcome.lastFailure = failure }
            let delay = backoff.failed()
            log.warning("\(failure ?? "connection ended"); reconnecting in \(delay) s")
            StopSignal.sleep(delay, until: deadline)
        }
        outcome.diskLow = diskLow.value
        outcome.stoppedBySignal = StopSignal.requested
        return outcome
    }

    enum ConnectionResult {
        case playlist([String])
        case recorded(StreamEnd)
        case failed(String)
    }

    private func recordConnection(url: String, shouldStop: @escaping () -> Bool, deadlineReason: String,
                                  diskLow: Flag, outcome: inout RecordingOutcome) -> ConnectionResult {
        let conn = StreamConnection(url: url, stallTimeout: job.stallTimeoutSeconds, connectTimeout: min(15, max(3, job.stallTimeoutSeconds)),
                                    caFile: job.caFile)
        var writer: SectionWriter?
        var demuxer: ICYDemuxer?
        var playlistBody: [UInt8]?
        var setupError: (any Error)?
        var localDiskLow = false
        let end = conn.run(
            shouldStop: { shouldStop() || localDiskLow },
            onResponse: { [self] response in
                if Playlist.isPlaylist(url: response.effectiveURL, contentType: response.contentType) {
                    playlistBody = []
                    return
                }
                let ct = response.contentType?.lowercased() ?? ""
                if ct.hasPrefix("text/html") || ct.hasPrefix("application/json") {
                    throw SAError(.unsupported, "unsupported stream: Content-Type \(ct) is not audio")
                }
                // The section is dated by its audio's arrivals (SectionWriter); the server's Date
                // header (whole seconds) only tells whether its clock is far from ours.
                let now = Date()
                if let date = response.date, abs(date.timeIntervalSince(now)) > 5 {
                    log.warning("the server's clock differs from ours by \(Int(date.timeIntervalSince(now).rounded())) s; timestamps follow ours")
                }
                do {
                    writer = try makeWriter(url: url, startMs: Int64(now.timeIntervalSince1970 * 1000), live: true)
                } catch {
                    setupError = error
                    throw error
                }
                writer!.setFormatHint(FormatSniffer.format(contentType: response.contentType))
                if let mi = response.metaint, mi > 0 { demuxer = ICYDemuxer(metaint: mi) }
                log.info("connected to \(response.effectiveURL) (HTTP \(response.status), \(response.contentType ?? "no content type"), icy-metaint \(response.metaint ?? 0))")
            },
            onData: { [self] bytes in
                if playlistBody != nil {
                    playlistBody!.append(contentsOf: bytes)
                    if playlistBody!.count > 65536 { throw SAError(.unsupported, "playlist larger than 64 KiB") }
                    return
                }
                guard let w = writer else { return }
                if demuxer != nil {
                    try demuxer!.push(bytes, audio: { try w.push($0) }, metadata: { block in
                        if let t = ICYDemuxer.streamTitle(block) { try w.title(t) }
                    })
                } else {
                    try w.push(bytes)
                }
                if w.diskLow { localDiskLow = true }
            })
        if let body = playlistBody {
            return .playlist(Playlist.entries(String(decoding: body, as: UTF8.self), base: url))
        }
        guard let w = writer else {
            if case .failed(let why) = end { return .failed(why) }
            if let setupError { return .failed(String(describing: setupError)) }
            return .failed("no audio received from \(url)")
        }
        let reason: String
        switch end {
        case .serverClosed: reason = "stream_ended"
        case .stalled: reason = "stalled"
        case .failed: reason = "error"
        case .stopped:
            if localDiskLow { reason = "error" } else if StopSignal.requested { reason = "signal" } else { reason = deadlineReason }
        }
        do {
            try w.close(reason: reason)
        } catch {
            log.error("closing section \(w.section.id) failed: \(error)")
        }
        if localDiskLow {
            diskLow.value = true
            log.error("free space in \(job.outputDir) fell below min_free_mb = \(job.minFreeMB); stopped recording")
        }
        guard w.hasAudio else {
            if case .failed(let why) = end { return .failed(why) }
            return .failed("no audio recorded from \(url) before the connection ended")
        }
        outcome.sections += 1
        outcome.segments += w.segments
        return .recorded(end)
    }

    /// Imports a local MP3/AAC file or pipe (faster than real time) as one section.
    public func importInput(_ file: UnsafeMutablePointer<FILE>, name: String, startMs: Int64) throws -> RecordingOutcome {
        let w = try makeWriter(url: name, startMs: startMs, live: false)
        var reason = "input_end"
        do {
            try forEachChunk(of: file, name: name) { chunk in
                if StopSignal.requested {
                    reason = "signal"
                    return false
                }
                try w.push(chunk)
                if w.diskLow {
                    reason = "error"
                    return false
                }
                return true
            }
        } catch {
            try? w.close(reason: "error")
            if var e = error as? SAError, e.code == .unsupported || e.code == .badAudio {
                e.message = "\(name): \(e.message)"
                throw e
            }
            throw error
        }
        if w.inputFormat == nil {
            throw SAError(.unsupported, "\(name): unsupported input: no MP3 or AAC (ADTS) frames found")
        }
        try w.close(reason: reason)
        if w.diskLow {
            throw SAError(.diskFull, "free space in \(job.outputDir) fell below min_free_mb = \(job.minFreeMB); import stopped")
        }
        var o = RecordingOutcome()
        o.sections = w.hasAudio ? 1 : 0
        o.segments = w.segments
        o.stoppedBySignal = reason == "signal"
        return o
    }
}
