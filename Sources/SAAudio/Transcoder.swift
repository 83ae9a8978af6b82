import Foundation
import SACommon

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
        guard let decoder else { throw SAError(.badAudio, "transcoder used before start(format:)") }
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
