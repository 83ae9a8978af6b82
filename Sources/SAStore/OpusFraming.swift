import SACommon

/// How Opus packets are stored in a segment's `audio_data`: each packet preceded by its length
/// as two little-endian bytes. (AAC segments hold whole ADTS frames, which carry their own
/// lengths.) Written by the recorder, read by export and playback.
public enum OpusFraming {
    public static func append(_ packet: UnsafeRawBufferPointer, to blob: inout [UInt8]) {
        blob.append(UInt8(packet.count & 0xFF))
        blob.append(UInt8(packet.count >> 8))
        blob.append(contentsOf: packet)
    }

    /// Walks a stored blob without copying; `body` also learns whether the packet is the blob's last.
    public static func forEachPacket(_ blob: [UInt8], _ body: (UnsafeRawBufferPointer, Bool) throws -> Void) throws {
        try blob.withUnsafeBytes { p in
            var i = 0
            while i < p.count {
                guard i + 2 <= p.count else { throw SAError(.corrupt, "stored Opus segment: truncated packet length") }
                let n = Int(p[i]) | Int(p[i + 1]) << 8
                i += 2
                guard i + n <= p.count else { throw SAError(.corrupt, "stored Opus segment: packet runs past the segment") }
                try body(UnsafeRawBufferPointer(rebasing: p[i..<(i + n)]), i + n == p.count)
                i += n
            }
        }
    }

    /// The packets of a stored blob, copied out.
    public static func packets(_ blob: [UInt8]) throws -> [[UInt8]] {
        var out: [[UInt8]] = []
        try forEachPacket(blob) { p, _ in out.append(Array(p)) }
        return out
    }
}

/// AAC segments hold whole ADTS frames back to back; each header carries the frame's length.
public enum ADTSFraming {
    /// Walks the frames of a stored blob without copying.
    public static func forEachFrame(_ blob: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try blob.withUnsafeBytes { p in
            var i = 0
            while i < p.count {
                guard i + 7 <= p.count, p[i] == 0xFF, p[i + 1] & 0xF6 == 0xF0 else {
                    throw SAError(.corrupt, "stored AAC segment: no ADTS frame header at byte \(i)")
                }
                let n = Int(p[i + 3] & 0x03) << 11 | Int(p[i + 4]) << 3 | Int(p[i + 5] >> 5)
                guard n >= 7, i + n <= p.count else { throw SAError(.corrupt, "stored AAC segment: frame runs past the segment") }
                try body(UnsafeRawBufferPointer(rebasing: p[i..<(i + n)]))
                i += n
            }
        }
    }
}

extension AudioFormat {
    /// Samples per stored packet: 20 ms Opus packets at 48 kHz, 1024-sample AAC frames.
    public var samplesPerPacket: Int64 { self == .opus ? 960 : 1024 }

    /// Calls `body` with each packet (Opus) or frame (AAC) of a stored segment blob.
    public func forEachPacket(_ blob: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        switch self {
        case .opus: try OpusFraming.forEachPacket(blob) { p, _ in try body(p) }
        case .aac: try ADTSFraming.forEachFrame(blob, body)
        }
    }
}
