import Foundation
import Logging
import SAAudio
import SACommon
import SAStore

/// Records one section: everything from one connection (or one imported input), gapless.
/// Segments are committed as soon as they are complete; the section row is created with the
/// first segment, so a connection that yields no audio leaves nothing behind.
final class SectionWriter {
    let show: String
    let store: ShowDB
    let output: JSONLineWriter
    /// Its start is final once the first segment is committed (see `anchorToArrivals`).
    private(set) var section: NewSection
    /// A live stream's section is dated by when its audio arrived, not by when the connection
    /// opened: a server sends seconds of older audio at once on connect (a burst), so audio at
    /// position p of the stream, arriving at wall time t, aired no later than t. The start is the
    /// latest one consistent with every arrival before the first commit: min(t - p). Imports
    /// keep the start they were given.
    let anchorToArrivals: Bool
    private var anchorMs: Double?
    private var anchorMovedAtMs: Double = 0
    /// Until the burst is over (the anchor has not moved for a second), completed segments wait
    /// here, so that none is dated before the start is known: at most the burst and a second.
    private var held: [SegmentAssembler.Segment] = []
    private var heldSamples: Int64 = 0
    let codec: OutputCodec
    let sampleRate: Int
    private var transcoder: Transcoder!
    private var assembler: SegmentAssembler
    private var sniffBuffer: [UInt8] = []
    private var formatHint: InputFormat?
    private var started = false
    private(set) var segments = 0
    private(set) var committedSamples: Int64 = 0
    /// Titles seen before the start is known, by their position in the stream (ms).
    private var pendingTitles: [(Double, String)] = []
    private var lastTitle: String?
    private var commitError: (any Error)?
    let minFreeBytes: Int64
    private(set) var diskLow = false
    let log: Logger

    static let sniffLimit = 256 * 1024

    init(show: String, store: ShowDB, output: JSONLineWriter, section: NewSection,
         codec: OutputCodec, bitrate: Int, splitInterval: Int, opusComplexity: Int, minFreeBytes: Int64, log: Logger,
         anchorToArrivals: Bool = false) throws {
        self.show = show
        self.anchorToArrivals = anchorToArrivals
        self.store = store
        self.output = output
        self.section = section
        self.codec = codec
        self.minFreeBytes = minFreeBytes
        self.log = log
        sampleRate = codec == .opus ? AudioFormat.opusSampleRate : AudioFormat.aacSampleRate
        // The packet sink needs self, which exists only once the assembler (which needs the
        // encoder's delay) is set: the transcoder's closure calls through `sink`, set last.
        var sink: ((UnsafeRawBufferPointer, Int) throws -> Void)!
        let t = try Transcoder(codec: codec, bitrateKbps: bitrate, opusComplexity: opusComplexity) { p, n in try sink(p, n) }
        transcoder = t
        assembler = SegmentAssembler(codec: codec, sampleRate: sampleRate, segmentSeconds: splitInterval,
                                     delaySamples: t.encoder.delaySamples)
        sink = { [unowned self] p, n in
            if let seg = self.assembler.add(p, samples: n) { try self.commit(seg) }
        }
    }

    var db: String { store.location }
    var hasAudio: Bool { segments > 0 }

    /// The format the headers claim; bytes are sniffed when there is none.
    func setFormatHint(_ f: InputFormat?) { formatHint = f }

    func push(_ bytes: UnsafeRawBufferPointer) throws {
        try pushBytes(bytes)
        if anchorToArrivals && segments == 0 {
            observeArrival()
            // Commit what waited once the start is known, or when a long burst keeps it moving.
            if !held.isEmpty && (anchorSettled || heldSamples >= Int64(sampleRate) * 30) { try commitHeld() }
        }
    }

    private func pushBytes(_ bytes: UnsafeRawBufferPointer) throws {
        if started {
            try transcoder.push(bytes)
            return
        }
        sniffBuffer.append(contentsOf: bytes)
        let detected = FormatSniffer.detect(sniffBuffer)
        guard let format = detected ?? (sniffBuffer.count >= 16384 ? formatHint : nil) else {
            if sniffBuffer.count > SectionWriter.sniffLimit {
                throw SAError(.unsupported, 
                    "unsupported stream: no MP3 or AAC (ADTS) frames in the first \(SectionWriter.sniffLimit / 1024) KiB")
            }
            return
        }
        if let hint = formatHint, hint != format {
            log.info("content type says \(hint.rawValue) but the bytes are \(format.rawValue); using \(format.rawValue)")
        }
        try transcoder.start(format: format)
        started = true
        let buffered = sniffBuffer
        sniffBuffer = []
        try buffered.withUnsafeBytes { try transcoder.push($0) }
    }

    var inputFormat: InputFormat? { transcoder.inputFormat }

    private func observeArrival() {
        let now = Date().timeIntervalSince1970 * 1000
        let candidate = now - positionMs
        guard let a = anchorMs else {
            anchorMs = candidate
            anchorMovedAtMs = now
            return
        }
        if candidate < a - 50 { anchorMovedAtMs = now }  // still in the burst, not network jitter
        if candidate < a { anchorMs = candidate }
    }

    private var anchorSettled: Bool { anchorMs != nil && Date().timeIntervalSince1970 * 1000 - anchorMovedAtMs >= 1000 }

    private func commitHeld() throws {
        let waiting = held
        held = []
        heldSamples = 0
        for seg in waiting { try commitNow(seg) }
    }

    /// Where the stream is now, in ms from the section's first sample.
    private var positionMs: Double { transcoder.decodedSeconds * 1000 }

    func title(_ text: String) throws {
        // An empty StreamTitle means "no title", not a change worth a record.
        guard !text.isEmpty, text != lastTitle else { return }
        lastTitle = text
        if hasAudio {
            try writeTitle(section.startTimestampMs + Int64(positionMs.rounded()), text)
        } else {
            pendingTitles.append((positionMs, text))
        }
    }

    private func writeTitle(_ ts: Int64, _ text: String) throws {
        try store.addTitle(sectionID: section.id, timestampMs: ts, title: text)
        output.write(.object([("type", "title"), ("show", .string(show)), ("db", .string(db)),
                              ("section_id", .int(section.id)), ("timestamp_ms", .int(ts)), ("title", .string(text))]))
    }

    private func commit(_ seg: SegmentAssembler.Segment) throws {
        if anchorToArrivals && segments == 0 && (!held.isEmpty || !anchorSettled) {
            held.append(seg)
            heldSamples += seg.durationSamples
            return
        }
        try commitNow(seg)
    }

    private func commitNow(_ seg: SegmentAssembler.Segment) throws {
        let first = segments == 0
        if first, anchorToArrivals, let anchorMs {
            let connectedMs = section.startTimestampMs
            section.startTimestampMs = Int64(anchorMs.rounded(.down))
            log.info("section \(section.id) dated by its audio's arrivals: its first sample aired \(connectedMs - section.startTimestampMs) ms before the connection opened")
        }
        let ts = section.startTimestampMs + committedSamples * 1000 / Int64(sampleRate)
        let id = try store.commitSegment(
            SegmentRecord(timestampMs: ts, isTimestampFromSource: first, sectionID: section.id, durationSamples: seg.durationSamples,
                          audio: seg.audio),
            section: section)
        committedSamples += seg.durationSamples
        segments += 1
        if first {
            output.write(.object([("type", "section_started"), ("show", .string(show)), ("db", .string(db)),
                                  ("section_id", .int(section.id)), ("start_timestamp_ms", .int(section.startTimestampMs)),
                                  ("url", .string(section.sourceURL))]))
        }
        output.write(.object([("type", "segment"), ("show", .string(show)), ("db", .string(db)),
                              ("section_id", .int(section.id)), ("segment_id", .int(id)), ("timestamp_ms", .int(ts)),
                              ("duration_ms", .int(seg.durationSamples * 1000 / Int64(sampleRate))),
                              ("bytes", .int(Int64(seg.audio.count)))]))
        if first {
            for (position, text) in pendingTitles { try writeTitle(section.startTimestampMs + Int64(position.rounded()), text) }
            pendingTitles = []
        }
        if minFreeBytes > 0, let free = DiskSpace.availableBytes(at: (db as NSString).deletingLastPathComponent), free < minFreeBytes {
            diskLow = true
        }
    }

    /// Drains the pipeline, commits the last partial segment and closes the section.
    func close(reason: String) throws {
        if started {
            do {
                try transcoder.finish()
            } catch {
                log.warning("flushing the encoder failed: \(error)")
            }
            if let seg = assembler.finish(totalInputSamples: transcoder.encodedInputSamples) { try commit(seg) }
            try commitHeld()
        }
        guard hasAudio else { return }
        let end = section.startTimestampMs + committedSamples * 1000 / Int64(sampleRate)
        try store.finishSection(id: section.id, endTimestampMs: end, reason: reason)
        output.write(.object([("type", "section_finished"), ("show", .string(show)), ("db", .string(db)),
                              ("section_id", .int(section.id)), ("start_timestamp_ms", .int(section.startTimestampMs)),
                              ("segments", .int(Int64(segments))), ("duration_ms", .int(committedSamples * 1000 / Int64(sampleRate))),
                              ("reason", .string(reason))]))
    }
}
