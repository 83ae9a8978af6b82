import SAAudio
import SAStore

/// Groups packets into segments of about `segmentSeconds`, in the stored layout: Opus packets
/// framed by `OpusFraming`; AAC as whole ADTS frames. A segment's
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
            OpusFraming.append(packet, to: &audio)
        } else {
            audio.append(contentsOf: packet)
        }
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
