import COgg
import SACommon
import SAStore
import Foundation

/// Ogg Opus (RFC 7845) from stored 20 ms Opus packets: OpusHead with the encoder's pre-skip,
/// OpusTags, granule positions continuous from the section start and end trimming on the last
/// page. Pages come out through `sink` as they fill, so memory does not grow with the length.
/// Everything is derived from the section, so the same section always gives the same bytes.
public final class OggOpusWriter {
    private var stream = ogg_stream_state()
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private let preSkip: Int64
    private let totalSamples: Int64
    private var packetNumber: Int64 = 0
    private var samplesWritten: Int64 = 0
    public private(set) var bytesWritten: Int64 = 0

    /// - Parameters:
    ///   - serial: the Ogg stream serial number (derived from the section id by the caller).
    ///   - totalSamples: the section's audio length at 48 kHz, after pre-skip (the sum of the
    ///     segments' duration_samples); the final granule position is `preSkip + totalSamples`.
    public init(serial: Int32, preSkip: Int, totalSamples: Int64, tags: [String],
                sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        self.sink = sink
        self.preSkip = Int64(preSkip)
        self.totalSamples = totalSamples
        guard ogg_stream_init(&stream, serial) == 0 else { throw SAError.internalError("ogg_stream_init failed") }

        var head = Array("OpusHead".utf8)
        head.append(1)  // version
        head.append(1)  // channels
        guard let preSkip16 = UInt16(exactly: preSkip) else {
            throw SAError(.badDatabase, "the database's pre-skip \(preSkip) is not a number of samples from 0 to 65535")
        }
        head += le16(preSkip16)
        head += le32(48000)  // input sample rate: what the recorder encoded from
        head += le16(0)  // output gain
        head.append(0)  // channel mapping family
        try packet(head, granule: 0, bos: true)
        try flushPages()

        var opusTags = Array("OpusTags".utf8)
        let vendor = Array("save_audio_stream".utf8)
        opusTags += le32(UInt32(vendor.count)) + vendor
        opusTags += le32(UInt32(tags.count))
        for t in tags {
            let b = Array(t.utf8)
            opusTags += le32(UInt32(b.count)) + b
        }
        try packet(opusTags, granule: 0)
        try flushPages()
    }

    deinit { ogg_stream_clear(&stream) }

    /// Adds one 20 ms Opus packet; the last one of the section carries the end-of-stream flag
    /// and the trimmed granule position (`preSkip + totalSamples`).
    public func add(_ opus: UnsafeRawBufferPointer, last: Bool) throws {
        if last {
            try packet(opus, granule: preSkip + totalSamples, eos: true)
            return
        }
        // Granule positions count every decoded sample, the pre-skip included.
        samplesWritten += 960
        try packet(opus, granule: samplesWritten)
        // libogg cuts pages at the same packet boundaries however often it is asked, so asking
        // every 32 packets gives identical bytes for far less scanning.
        if packetNumber % 32 == 0 { try pageOut() }
    }

    /// Adds every packet of a stored segment blob (`OpusFraming`).
    public func addSegment(_ blob: [UInt8], isLastSegment: Bool) throws {
        try OpusFraming.forEachPacket(blob) { packet, isLastInBlob in try add(packet, last: isLastSegment && isLastInBlob) }
    }

    public func finish() throws {
        try flushPages()
    }

    private func packet(_ bytes: [UInt8], granule: Int64, bos: Bool = false, eos: Bool = false) throws {
        try bytes.withUnsafeBytes { try packet($0, granule: granule, bos: bos, eos: eos) }
    }

    private func packet(_ bytes: UnsafeRawBufferPointer, granule: Int64, bos: Bool = false, eos: Bool = false) throws {
        let rc = bytes.withMemoryRebound(to: UInt8.self) { buf -> Int32 in
            var op = ogg_packet()
            // libogg copies the packet; it never writes through this pointer.
            op.packet = UnsafeMutablePointer(mutating: buf.baseAddress)
            op.bytes = buf.count
            op.b_o_s = bos ? 1 : 0
            op.e_o_s = eos ? 1 : 0
            op.granulepos = granule
            op.packetno = packetNumber
            return ogg_stream_packetin(&stream, &op)
        }
        packetNumber += 1
        guard rc == 0 else { throw SAError.internalError("ogg_stream_packetin failed") }
    }

    private func pageOut() throws {
        var page = ogg_page()
        while ogg_stream_pageout(&stream, &page) != 0 { try write(page) }
    }

    private func flushPages() throws {
        var page = ogg_page()
        while ogg_stream_flush(&stream, &page) != 0 { try write(page) }
    }

    private func write(_ page: ogg_page) throws {
        try sink(UnsafeRawBufferPointer(start: page.header, count: page.header_len))
        try sink(UnsafeRawBufferPointer(start: page.body, count: page.body_len))
        bytesWritten += Int64(page.header_len + page.body_len)
    }

    private func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
}
