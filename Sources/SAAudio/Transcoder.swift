import Foundation

public enum OutputCodec: String, Sendable {
    case opus, aac
}

/// Decode → mix to mono → resample (stateful) → encode, for one continuous stretch of input
/// (one section). Packets come out through `packet` with the samples each covers.
public final class Transcoder {
    public let codec: OutputCodec
    public let encoder: any SpeechEncoder
    private var decoder: (any StreamDecoder)?
    private var resampler: Resampler?
    private let packetSink: (UnsafeRawBufferPointer, Int) throws -> Void
    /// Samples at the output rate handed to the encoder so far (the section's true length).
    public private(set) var encodedInputSamples: Int64 = 0
    /// Source samples decoded so far and their rate, to place ICY titles on the timeline.
    public private(set) var decodedSeconds: Double = 0
    public private(set) var inputFormat: InputFormat?

    public init(codec: OutputCodec, bitrateKbps: Int, opusComplexity: Int = 10,
                packet: @escaping (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        self.codec = codec
        switch codec {
        case .opus: encoder = try OpusSpeechEncoder(bitrateKbps: bitrateKbps, complexity: opusComplexity)
        case .aac: encoder = try AACSpeechEncoder(sampleRate: 16000, bitrateKbps: bitrateKbps)
        }
        packetSink = packet
    }

    public var outputRate: Int { encoder.sampleRate }
    public var bytesSkipped: Int { decoder?.bytesSkipped ?? 0 }

    public func start(format: InputFormat) throws {
        inputFormat = format
        decoder = try makeDecoder(format)
    }

    public func push(_ bytes: UnsafeRawBufferPointer) throws {
        guard let decoder else { throw AudioError("transcoder used before start(format:)") }
        try decoder.push(bytes) { pcm, rate in
            guard rate > 0 else { return }
            decodedSeconds += Double(pcm.count) / Double(rate)
            if resampler == nil || resampler!.inputRate != rate {
                // A sample-rate change mid-stream: drain the old filter first, then switch.
                try resampler?.flush { try feedEncoder($0) }
                resampler = try Resampler(inputRate: rate, outputRate: outputRate)
            }
            try resampler!.process(pcm) { try feedEncoder($0) }
        }
    }

    private func feedEncoder(_ pcm: UnsafeBufferPointer<Float>) throws {
        encodedInputSamples += Int64(pcm.count)
        try encoder.encode(pcm, packet: packetSink)
    }

    /// Drains resampler and encoder; every input sample is then in some packet.
    public func finish() throws {
        try resampler?.flush { try feedEncoder($0) }
        try encoder.finish(packet: packetSink)
    }
}

/// Groups packets into segments of about `segmentSeconds`, in the stored layout: Opus packets
/// each preceded by a 2-byte little-endian length; AAC as whole ADTS frames. A segment's
/// duration counts the audio it adds to the section: the first excludes the encoder delay and
/// the last ends at the last real input sample, so a section's durations add up to its length.
public struct SegmentAssembler {
    public struct Segment {
        public var audio: [UInt8]
        public var durationSamples: Int64
        public var packets: Int
    }

    public let codec: OutputCodec
    public let segmentSamples: Int
    public let delaySamples: Int
    private var audio: [UInt8] = []
    private var pendingSamples = 0
    private var packets = 0
    private var emittedDuration: Int64 = 0
    private var emittedAny = false

    public init(codec: OutputCodec, sampleRate: Int, segmentSeconds: Int, delaySamples: Int) {
        self.codec = codec
        segmentSamples = sampleRate * segmentSeconds
        self.delaySamples = delaySamples
        audio.reserveCapacity(segmentSeconds * 8000)
    }

    public var hasPending: Bool { packets > 0 }
    public var durationSoFar: Int64 { emittedDuration }

    public mutating func add(_ packet: UnsafeRawBufferPointer, samples: Int) -> Segment? {
        if codec == .opus {
            audio.append(UInt8(packet.count & 0xFF))
            audio.append(UInt8(packet.count >> 8))
        }
        audio.append(contentsOf: packet)
        pendingSamples += samples
        packets += 1
        guard pendingSamples >= segmentSamples else { return nil }
        let duration = Int64(pendingSamples - (emittedAny ? 0 : delaySamples))
        return take(duration: max(0, duration))
    }

    /// The last, partial segment at the end of a section; its duration closes the section at
    /// `totalInputSamples`.
    public mutating func finish(totalInputSamples: Int64) -> Segment? {
        guard packets > 0 else { return nil }
        return take(duration: max(0, totalInputSamples - emittedDuration))
    }

    private mutating func take(duration: Int64) -> Segment {
        let seg = Segment(audio: audio, durationSamples: duration, packets: packets)
        emittedDuration += duration
        emittedAny = true
        audio.removeAll(keepingCapacity: true)
        pendingSamples = 0
        packets = 0
        return seg
    }
}
