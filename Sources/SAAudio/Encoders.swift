import CFdkAac
import COpus
import Foundation
import SACommon

/// Encodes mono float PCM at `sampleRate` into packets; each packet covers `samples` samples.
public protocol SpeechEncoder: AnyObject {
    var sampleRate: Int { get }
    /// Samples of encoder delay at the start of the stream (Opus pre-skip, AAC priming).
    var delaySamples: Int { get }
    func encode(_ pcm: UnsafeBufferPointer<Float>, packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws
    /// Pads and drains so that every input sample is represented in the output.
    func finish(packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws
}

/// A sample as an encoder takes it, from float PCM in [-1, 1].
protocol EncoderSample {
    init(pcm: Float)
}

extension Float: EncoderSample {
    init(pcm: Float) { self = pcm }
}

extension Int16: EncoderSample {
    init(pcm: Float) { self = Int16(Swift.max(-32768, Swift.min(32767, (pcm * 32767).rounded()))) }
}

/// One encoder frame being filled from PCM that arrives in pieces of any length.
struct FrameBuffer<Sample: EncoderSample> {
    var samples: [Sample]
    private(set) var filled = 0

    init(length: Int) { samples = [Sample](repeating: Sample(pcm: 0), count: length) }

    var length: Int { samples.count }

    /// Takes samples of `pcm` from `index` on (advancing it) until the frame is full; true when
    /// it is, and the caller encodes it and calls `clear()`.
    mutating func fill(from pcm: UnsafeBufferPointer<Float>, at index: inout Int) -> Bool {
        let n = min(samples.count - filled, pcm.count - index)
        let start = filled, from = index
        samples.withUnsafeMutableBufferPointer { f in
            for k in 0..<n { f[start + k] = Sample(pcm: pcm[from + k]) }
        }
        filled += n
        index += n
        return filled == samples.count
    }

    /// Silence to the end of the frame.
    mutating func padWithSilence() {
        for k in filled..<samples.count { samples[k] = Sample(pcm: 0) }
        filled = samples.count
    }

    mutating func clear() { filled = 0 }
}

/// libopus, VOIP application, 20 ms frames at 48 kHz mono.
public final class OpusSpeechEncoder: SpeechEncoder {
    public let sampleRate = 48000
    public let frameSize = 960
    public let delaySamples: Int
    private let encoder: OpaquePointer
    private var frame = FrameBuffer<Float>(length: 960)
    private var out = [UInt8](repeating: 0, count: 4000)
    private var inputSamples = 0
    private var outputSamples = 0

    /// Bitrates up to this are coded at most wideband (8 kHz audio bandwidth).
    public static let widebandCapKbps = 24

    public init(bitrateKbps: Int, complexity: Int = 10) throws {
        var err: Int32 = 0
        guard let enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err), err == OPUS_OK else {
            throw SAError(.badAudio, "opus_encoder_create failed: \(err)")
        }
        encoder = enc
        guard sa_opus_set_bitrate(enc, Int32(bitrateKbps * 1000)) == OPUS_OK else {
            opus_encoder_destroy(enc)
            throw SAError(.badAudio, "Opus does not accept a bitrate of \(bitrateKbps) kbit/s")
        }
        _ = sa_opus_set_complexity(enc, Int32(complexity))
        _ = sa_opus_set_signal_voice(enc)
        // At speech bitrates the encoder would otherwise sometimes code 8–12 kHz (super-wideband)
        // with bits the speech band needs; capped at wideband it costs about a fifth less CPU
        // and scores higher (PESQ-WB; see save_audio_stream(7), OPUS COMPLEXITY).
        if bitrateKbps <= OpusSpeechEncoder.widebandCapKbps { _ = sa_opus_set_max_bandwidth(enc, OPUS_BANDWIDTH_WIDEBAND) }
        var lookahead: Int32 = 0
        _ = sa_opus_get_lookahead(enc, &lookahead)
        delaySamples = Int(lookahead)
    }

    deinit { opus_encoder_destroy(encoder) }

    public func encode(_ pcm: UnsafeBufferPointer<Float>, packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        inputSamples += pcm.count
        var i = 0
        while frame.fill(from: pcm, at: &i) { try encodeFrame(packet) }
    }

    private func encodeFrame(_ packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let n = frame.samples.withUnsafeBufferPointer { f in
            out.withUnsafeMutableBufferPointer { o in
                opus_encode_float(encoder, f.baseAddress!, Int32(frameSize), o.baseAddress!, Int32(o.count))
            }
        }
        guard n > 0 else { throw SAError(.badAudio, "opus_encode_float failed: \(n)") }
        frame.clear()
        outputSamples += frameSize
        try out.withUnsafeBytes { try packet(UnsafeRawBufferPointer(rebasing: $0[0..<Int(n)]), frameSize) }
    }

    public func finish(packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        // Enough frames that the last real sample comes out after the encoder's lookahead.
        while outputSamples < inputSamples + delaySamples {
            frame.padWithSilence()
            try encodeFrame(packet)
        }
    }
}

/// libfdk-aac, AAC-LC mono in ADTS frames of 1024 samples.
public final class AACSpeechEncoder: SpeechEncoder {
    public let sampleRate: Int
    public let delaySamples: Int
    public let frameLength: Int
    private var handle: HANDLE_AACENCODER?
    private var pcm: FrameBuffer<Int16>
    private var out = [UInt8](repeating: 0, count: 8192)

    public init(sampleRate: Int = 16000, bitrateKbps: Int) throws {
        self.sampleRate = sampleRate
        var h: HANDLE_AACENCODER?
        var frameLength: Int32 = 0, delay: Int32 = 0
        let rc = sa_aac_open(&h, Int32(sampleRate), Int32(bitrateKbps * 1000), &frameLength, &delay)
        guard rc == 0, h != nil else {
            if h != nil { aacEncClose(&h) }
            throw SAError(.badAudio, "the AAC encoder refused \(bitrateKbps) kbit/s at \(sampleRate) Hz (step \(-rc))")
        }
        handle = h
        self.frameLength = Int(frameLength)
        delaySamples = Int(delay)
        pcm = FrameBuffer(length: Int(frameLength))
    }

    deinit { aacEncClose(&handle) }

    public func encode(_ input: UnsafeBufferPointer<Float>, packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var i = 0
        while pcm.fill(from: input, at: &i) {
            try call(samples: frameLength, packet)
            pcm.clear()
        }
    }

    private func call(samples: Int, _ packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var consumed: Int32 = 0
        let n = pcm.samples.withUnsafeMutableBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                sa_aac_encode(handle, p.baseAddress, Int32(samples), o.baseAddress, Int32(o.count), &consumed)
            }
        }
        if n == -1000 { return }
        guard n >= 0 else { throw SAError(.badAudio, "aacEncEncode failed: \(-n)") }
        if n > 0 { try out.withUnsafeBytes { try packet(UnsafeRawBufferPointer(rebasing: $0[0..<Int(n)]), frameLength) } }
    }

    public func finish(packet: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        if pcm.filled > 0 {
            try call(samples: pcm.filled, packet)
            pcm.clear()
        }
        for _ in 0..<64 {
            var consumed: Int32 = 0
            let n = out.withUnsafeMutableBufferPointer { o in
                sa_aac_encode(handle, nil, -1, o.baseAddress, Int32(o.count), &consumed)
            }
            if n <= 0 { break }
            try out.withUnsafeBytes { try packet(UnsafeRawBufferPointer(rebasing: $0[0..<Int(n)]), frameLength) }
        }
    }
}
