import CFaad
import CMpg123
import Foundation
import SACommon

/// Decodes a compressed byte stream to mono float PCM at the stream's own rate.
public protocol StreamDecoder: AnyObject {
    /// Feeds bytes; calls `output` with mono samples and their sample rate as they are decoded.
    func push(_ bytes: UnsafeRawBufferPointer, output: (UnsafeBufferPointer<Float>, Int) throws -> Void) throws
    var bytesSkipped: Int { get }
}

public func makeDecoder(_ format: InputFormat) throws -> any StreamDecoder {
    switch format {
    case .mp3: return try MP3Decoder()
    case .aac: return AACDecoder()
    }
}

/// libmpg123 in feed mode: it finds frame sync itself, skips ID3 tags and junk, and mixes
/// stereo to mono.
public final class MP3Decoder: StreamDecoder {
    private let handle: OpaquePointer
    private var out = [Float](repeating: 0, count: 1152 * 8)
    private var rate = 0
    public private(set) var bytesSkipped = 0

    public init() throws {
        var err: Int32 = 0
        guard let h = mpg123_new(nil, &err) else { throw SAError(.badAudio, "mpg123_new failed: \(err)") }
        handle = h
        let flags = Int(MPG123_FORCE_FLOAT.rawValue | MPG123_MONO_MIX.rawValue | MPG123_QUIET.rawValue | MPG123_GAPLESS.rawValue)
        mpg123_param2(h, Int32(MPG123_FLAGS.rawValue), flags, 0)
        mpg123_param2(h, Int32(MPG123_RESYNC_LIMIT.rawValue), -1, 0)
        mpg123_format_none(h)
        for r in [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] {
            mpg123_format(h, r, Int32(MPG123_MONO.rawValue), Int32(MPG123_ENC_FLOAT_32.rawValue))
        }
        guard mpg123_open_feed(h) == MPG123_OK.rawValue else { throw SAError(.badAudio, "mpg123_open_feed failed") }
    }

    deinit { mpg123_delete(handle) }

    public func push(_ bytes: UnsafeRawBufferPointer, output: (UnsafeBufferPointer<Float>, Int) throws -> Void) throws {
        if bytes.count > 0 {
            guard mpg123_feed(handle, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count) == MPG123_OK.rawValue else {
                throw SAError(.badAudio, "mpg123_feed failed")
            }
        }
        while true {
            var done = 0
            let rc = out.withUnsafeMutableBytes { mpg123_read(handle, $0.baseAddress, $0.count, &done) }
            if rc == MPG123_NEW_FORMAT.rawValue {
                var r = 0, ch: Int32 = 0, enc: Int32 = 0
                mpg123_getformat(handle, &r, &ch, &enc)
                rate = r
            }
            if done > 0 {
                try out.withUnsafeBufferPointer { try output(UnsafeBufferPointer(rebasing: $0[0..<(done / 4)]), rate) }
            }
            if rc == MPG123_NEED_MORE.rawValue || rc == MPG123_DONE.rawValue { break }
            if rc == MPG123_ERR.rawValue {
                let msg = String(cString: mpg123_strerror(handle))
                throw SAError(.badAudio, "MP3 decoding failed: \(msg)")
            }
            if rc != MPG123_OK.rawValue && rc != MPG123_NEW_FORMAT.rawValue && done == 0 { break }
        }
    }
}

/// FAAD2 over whole ADTS frames (LC and HE-AAC, with SBR and PS); channels are mixed to mono.
public final class AACDecoder: StreamDecoder {
    private var handle: NeAACDecHandle?
    private var framer = ADTSFramer()
    private var mono = [Float]()
    private var failures = 0
    public var bytesSkipped: Int { framer.skippedBytes }

    public init() {}

    deinit { if let handle { NeAACDecClose(handle) } }

    public func push(_ bytes: UnsafeRawBufferPointer, output: (UnsafeBufferPointer<Float>, Int) throws -> Void) throws {
        try framer.push(bytes) { frame in
            try decode(frame, output: output)
        }
    }

    private func decode(_ frame: UnsafeRawBufferPointer, output: (UnsafeBufferPointer<Float>, Int) throws -> Void) throws {
        let base = UnsafeMutablePointer(mutating: frame.baseAddress!.assumingMemoryBound(to: UInt8.self))
        if handle == nil {
            guard let h = NeAACDecOpen() else { throw SAError(.badAudio, "NeAACDecOpen failed") }
            let cfg = NeAACDecGetCurrentConfiguration(h)!
            cfg.pointee.outputFormat = UInt8(FAAD_FMT_FLOAT)
            cfg.pointee.downMatrix = 1
            cfg.pointee.dontUpSampleImplicitSBR = 0
            NeAACDecSetConfiguration(h, cfg)
            var rate: UInt = 0
            var ch: UInt8 = 0
            guard NeAACDecInit(h, base, UInt(frame.count), &rate, &ch) >= 0 else {
                NeAACDecClose(h)
                throw SAError(.badAudio, "the AAC decoder rejected the stream header")
            }
            handle = h
        }
        var info = NeAACDecFrameInfo()
        let out = NeAACDecDecode(handle, &info, base, UInt(frame.count))
        if info.error != 0 {
            // A damaged frame is skipped; a stream that never decodes is bad content.
            failures += 1
            if failures > 50 {
                let msg = String(cString: NeAACDecGetErrorMessage(info.error))
                throw SAError(.badAudio, "AAC decoding keeps failing: \(msg)")
            }
            return
        }
        failures = 0
        guard let out, info.samples > 0, info.channels > 0 else { return }
        let channels = Int(info.channels)
        let frames = Int(info.samples) / channels
        let samples = out.assumingMemoryBound(to: Float.self)
        if mono.count < frames { mono = [Float](repeating: 0, count: frames) }
        if channels == 1 {
            mono.withUnsafeMutableBufferPointer { m in for i in 0..<frames { m[i] = samples[i] } }
        } else {
            let scale = 1 / Float(channels)
            mono.withUnsafeMutableBufferPointer { m in
                for i in 0..<frames {
                    var s: Float = 0
                    for c in 0..<channels { s += samples[i * channels + c] }
                    m[i] = s * scale
                }
            }
        }
        try mono.withUnsafeBufferPointer { try output(UnsafeBufferPointer(rebasing: $0[0..<frames]), Int(info.samplerate)) }
    }
}
