import Foundation
import SACommon
import SAStore

/// `application/x-segment-stream`: a compact binary body for segment batches.
///
///     "SASEGS1\n"                      8 bytes magic
///     count                            u32
///     count × record:
///       id, timestamp_ms               i64, i64
///       is_timestamp_from_source       u8
///       section_id, duration_samples   i64, i64
///       audio length, audio bytes      u32, bytes
///     CRC-32 (IEEE) of all bytes above u32
///
/// Integers are little-endian. A body whose checksum, count or lengths do not add up is
/// rejected as a whole, so nothing from a damaged transfer is written.
public enum SegmentStream {
    public static let contentType = "application/x-segment-stream"
    static let magic = Array("SASEGS1\n".utf8)

    public static func encode(_ records: [SegmentRecord]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(16 + records.reduce(0) { $0 + 41 + $1.audio.count })
        put(&out, UInt32(records.count))
        for r in records {
            put(&out, UInt64(bitPattern: r.id))
            put(&out, UInt64(bitPattern: r.timestampMs))
            out.append(r.isTimestampFromSource ? 1 : 0)
            put(&out, UInt64(bitPattern: r.sectionID))
            put(&out, UInt64(bitPattern: r.durationSamples))
            put(&out, UInt32(r.audio.count))
            out.append(contentsOf: r.audio)
        }
        put(&out, CRC32.checksum(out))
        return out
    }

    public static func decode(_ body: [UInt8]) throws -> [SegmentRecord] {
        func bad(_ why: String) -> SAError { SAError(.corrupt, "segment stream rejected: \(why)") }
        guard body.count >= magic.count + 8, Array(body[0..<magic.count]) == magic else { throw bad("not a segment stream") }
        let payload = body.count - 4
        let crc = body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: payload, as: UInt32.self).littleEndian }
        guard CRC32.checksum(body[0..<payload]) == crc else { throw bad("checksum mismatch (damaged or truncated body)") }
        var pos = magic.count
        return try body.withUnsafeBytes { p -> [SegmentRecord] in
            func need(_ n: Int) throws { if pos + n > payload { throw bad("truncated record") } }
            func u32() throws -> UInt32 { try need(4); defer { pos += 4 }; return p.loadUnaligned(fromByteOffset: pos, as: UInt32.self).littleEndian }
            func i64() throws -> Int64 { try need(8); defer { pos += 8 }; return Int64(bitPattern: p.loadUnaligned(fromByteOffset: pos, as: UInt64.self).littleEndian) }
            let count = Int(try u32())
            var out: [SegmentRecord] = []
            out.reserveCapacity(count)
            for _ in 0..<count {
                let id = try i64(), ts = try i64()
                try need(1)
                let src = p[pos] != 0
                pos += 1
                let section = try i64(), duration = try i64()
                let len = Int(try u32())
                try need(len)
                let audio = Array(UnsafeRawBufferPointer(rebasing: p[pos..<(pos + len)]))
                pos += len
                out.append(SegmentRecord(id: id, timestampMs: ts, isTimestampFromSource: src, sectionID: section,
                                         durationSamples: duration, audio: audio))
            }
            guard pos == payload else { throw bad("\(payload - pos) unexpected bytes after the records") }
            return out
        }
    }

    private static func put<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }
}
