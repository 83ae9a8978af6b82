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
