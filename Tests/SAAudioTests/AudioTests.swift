import Foundation
import SAAudio
import SARecorder
import XCTest

final class AudioTests: XCTestCase {
    /// A valid MPEG-1 layer III frame header (128 kbit/s, 44.1 kHz): 417 bytes per frame.
    func mp3Frames(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<n { out += [0xFF, 0xFB, 0x90, 0x64] + [UInt8](repeating: 0, count: 413) }
        return out
    }

    func adtsFrames(_ n: Int, length: Int = 200) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<n {
            let l = length
            out += [0xFF, 0xF1, 0x50, 0x80 | UInt8((l >> 11) & 0x3), UInt8((l >> 3) & 0xFF), UInt8((l & 0x7) << 5) | 0x1F, 0xFC]
            out += [UInt8](repeating: 0x11, count: l - 7)
        }
        return out
    }

    func testSnifferFindsFormatsAfterJunkAndID3() {
        XCTAssertEqual(FormatSniffer.detect([1, 2, 3, 0xFF, 0x00] + mp3Frames(4)), .mp3)
        XCTAssertEqual(FormatSniffer.detect([9, 9, 0xFF] + adtsFrames(4)), .aac)
        let id3: [UInt8] = Array("ID3".utf8) + [4, 0, 0, 0, 0, 0, 20] + [UInt8](repeating: 0xFF, count: 20)
        XCTAssertEqual(FormatSniffer.detect(id3 + mp3Frames(4)), .mp3)
        XCTAssertNil(FormatSniffer.detect([UInt8](repeating: 0x42, count: 5000)))
        XCTAssertEqual(FormatSniffer.format(contentType: "audio/mpeg; charset=x"), .mp3)
        XCTAssertEqual(FormatSniffer.format(contentType: "audio/aacp"), .aac)
        XCTAssertNil(FormatSniffer.format(contentType: "audio/ogg"))
    }

    func testADTSFramerResyncsAndSplitsAcrossPushes() {
        var framer = ADTSFramer()
        let data: [UInt8] = [0x12, 0xFF, 0x00, 7] + adtsFrames(5)
        var frames: [Int] = []
        for chunk in stride(from: 0, to: data.count, by: 37) {
            let slice = Array(data[chunk..<min(chunk + 37, data.count)])
            slice.withUnsafeBytes { framer.push($0) { frames.append($0.count) } }
        }
        XCTAssertEqual(frames, [200, 200, 200, 200, 200])
        XCTAssertEqual(framer.skippedBytes, 4)
    }

    func testICYDemuxerSeparatesMetadataAcrossChunks() {
        var stream: [UInt8] = []
        let audio1 = [UInt8](repeating: 1, count: 100)
        let meta = Array("StreamTitle='Caf\u{e9}';StreamUrl='';".utf8)
        let padded = meta + [UInt8](repeating: 0, count: (16 - meta.count % 16) % 16)
        stream += audio1 + [UInt8(padded.count / 16)] + padded + [UInt8](repeating: 2, count: 100) + [0] + [UInt8](repeating: 3, count: 50)
        var demux = ICYDemuxer(metaint: 100)
        var audioOut: [UInt8] = []
        var titles: [String] = []
        for i in stride(from: 0, to: stream.count, by: 7) {
            let chunk = Array(stream[i..<min(i + 7, stream.count)])
            chunk.withUnsafeBytes { p in
                demux.push(p, audio: { audioOut += $0 }, metadata: { if let t = ICYDemuxer.streamTitle($0) { titles.append(t) } })
            }
        }
        XCTAssertEqual(audioOut, audio1 + [UInt8](repeating: 2, count: 100) + [UInt8](repeating: 3, count: 50))
        XCTAssertEqual(titles, ["Café"])
    }

    func testStreamTitleFallsBackToLatin1() {
        let latin1: [UInt8] = Array("StreamTitle='Caf".utf8) + [0xE9] + Array("';".utf8) + [0, 0]
        XCTAssertEqual(ICYDemuxer.streamTitle(latin1), "Café")
        XCTAssertEqual(ICYDemuxer.streamTitle(Array("StreamTitle='It's a \"show\"';".utf8)), "It's a \"show\"")
        XCTAssertNil(ICYDemuxer.streamTitle(Array("StreamUrl='x';".utf8)))
    }

    func testPlaylistParsing() {
        let pls = "[playlist]\nNumberOfEntries=2\nFile1=http://a/1.mp3\nTitle1=x\nFile2=b/2.mp3\n"
        XCTAssertEqual(Playlist.entries(pls, base: "http://host/dir/list.pls"), ["http://a/1.mp3", "http://host/dir/b/2.mp3"])
        let m3u = "#EXTM3U\n#EXTINF:-1,x\r\nhttps://a/s\r\nftp://no\n"
        XCTAssertEqual(Playlist.entries(m3u, base: "http://h/"), ["https://a/s"])
        XCTAssertTrue(Playlist.isPlaylist(url: "http://h/x.PLS?x=1", contentType: nil))
        XCTAssertTrue(Playlist.isPlaylist(url: "http://h/x", contentType: "audio/x-mpegurl"))
        XCTAssertFalse(Playlist.isPlaylist(url: "http://h/x.mp3", contentType: "audio/mpeg"))
    }

    func testBackoffDoublesToCapAndResets() {
        var b = Backoff()
        XCTAssertEqual((0..<9).map { _ in b.failed() }, [0.5, 1, 2, 4, 8, 16, 30, 30, 30])
        b.succeeded()
        XCTAssertEqual(b.failed(), 0.5)
    }

    func testSegmentAssemblerDurationsAddUpToInput() {
        var asm = SegmentAssembler(codec: .opus, sampleRate: 48000, segmentSeconds: 1, delaySamples: 312)
        let packet = [UInt8](repeating: 7, count: 40)
        var segs: [SegmentAssembler.Segment] = []
        for _ in 0..<120 {
            packet.withUnsafeBytes { if let s = asm.add($0, samples: 960) { segs.append(s) } }
        }
        if let last = asm.finish(totalInputSamples: 120 * 960 - 312 - 500) { segs.append(last) }
        XCTAssertEqual(segs.map(\.packets), [50, 50, 20])
        XCTAssertEqual(segs[0].durationSamples, 48000 - 312)
        XCTAssertEqual(segs[1].durationSamples, 48000)
        XCTAssertEqual(segs.map(\.durationSamples).reduce(0, +), 120 * 960 - 312 - 500)
        XCTAssertEqual(segs[0].audio.count, 50 * 42)
        XCTAssertEqual(Array(segs[0].audio[0..<2]), [40, 0])  // 2-byte little-endian length prefix
    }

    func testOpusEncoderPadsSoEveryInputSampleIsEncoded() throws {
        let enc = try OpusSpeechEncoder(bitrateKbps: 16)
        XCTAssertGreaterThan(enc.delaySamples, 0)
        var samples = 0
        let pcm = [Float](repeating: 0.1, count: 10_000)
        try pcm.withUnsafeBufferPointer { p in try enc.encode(p) { _, n in samples += n } }
        try enc.finish { _, n in samples += n }
        XCTAssertGreaterThanOrEqual(samples, 10_000 + enc.delaySamples)
        XCTAssertEqual(samples % 960, 0)
        XCTAssertLessThan(samples - 10_000 - enc.delaySamples, 960)
    }

    func testResamplerKeepsLengthAcrossChunks() throws {
        let r = try Resampler(inputRate: 44100, outputRate: 48000)
        var out = 0
        let chunk = [Float](repeating: 0, count: 1234)
        for _ in 0..<100 { try chunk.withUnsafeBufferPointer { try r.process($0) { out += $0.count } } }
        try r.flush { out += $0.count }
        XCTAssertEqual(Double(out), Double(123_400) * 48000 / 44100, accuracy: 2)
    }
}
