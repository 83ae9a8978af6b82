import Foundation

/// Fragmented MP4 (ISO BMFF) for Opus HLS: an init segment with an 'Opus' sample entry and its
/// 'dOps' box, and media segments (moof + mdat) of 20 ms packets whose decode times continue
/// from the section start.
public enum FragmentedMP4 {
    static let timescale: UInt32 = 48000

    struct Box {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
        mutating func fourcc(_ s: String) { bytes.append(contentsOf: Array(s.utf8)) }
        mutating func zeros(_ n: Int) { bytes.append(contentsOf: [UInt8](repeating: 0, count: n)) }
        mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    }

    static func box(_ type: String, _ body: (inout Box) -> Void) -> [UInt8] {
        var b = Box()
        body(&b)
        var out = Box()
        out.u32(UInt32(b.bytes.count + 8))
        out.fourcc(type)
        out.append(b.bytes)
        return out.bytes
    }

    static func fullBox(_ type: String, version: UInt8, flags: UInt32, _ body: (inout Box) -> Void) -> [UInt8] {
        box(type) { b in
            b.u8(version)
            b.u8(UInt8((flags >> 16) & 0xFF))
            b.u8(UInt8((flags >> 8) & 0xFF))
            b.u8(UInt8(flags & 0xFF))
            body(&b)
        }
    }

    static let matrix: [UInt32] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000]

    public static func initSegment(preSkip: Int) -> [UInt8] {
        let ftyp = box("ftyp") { b in
            b.fourcc("iso6"); b.u32(0); b.fourcc("iso6"); b.fourcc("cmfc"); b.fourcc("mp41"); b.fourcc("Opus")
        }
        let mvhd = fullBox("mvhd", version: 0, flags: 0) { b in
            b.u32(0); b.u32(0); b.u32(timescale); b.u32(0)
            b.u32(0x0001_0000); b.u16(0x0100); b.zeros(10)
            for m in matrix { b.u32(m) }
            b.zeros(24); b.u32(2)
        }
        let tkhd = fullBox("tkhd", version: 0, flags: 3) { b in
            b.u32(0); b.u32(0); b.u32(1); b.u32(0); b.u32(0)
            b.zeros(8); b.u16(0); b.u16(1); b.u16(0x0100); b.u16(0)
            for m in matrix { b.u32(m) }
            b.u32(0); b.u32(0)
        }
        let mdhd = fullBox("mdhd", version: 0, flags: 0) { b in
            b.u32(0); b.u32(0); b.u32(timescale); b.u32(0); b.u16(0x55C4); b.u16(0)  // language 'und'
        }
        let hdlr = fullBox("hdlr", version: 0, flags: 0) { b in
            b.u32(0); b.fourcc("soun"); b.zeros(12); b.append(Array("SoundHandler".utf8) + [0])
        }
        let smhd = fullBox("smhd", version: 0, flags: 0) { b in b.u16(0); b.u16(0) }
        let dinf = box("dinf") { b in
            b.append(fullBox("dref", version: 0, flags: 0) { d in d.u32(1); d.append(fullBox("url ", version: 0, flags: 1) { _ in }) })
        }
        let dOps = box("dOps") { b in
            b.u8(0); b.u8(1); b.u16(UInt16(clamping: preSkip)); b.u32(48000); b.u16(0); b.u8(0)
        }
        let opus = box("Opus") { b in
            b.zeros(6); b.u16(1)  // data reference index
            b.zeros(8); b.u16(1); b.u16(16); b.u16(0); b.u16(0); b.u32(48000 << 16)
            b.append(dOps)
        }
        let stbl = box("stbl") { b in
            b.append(fullBox("stsd", version: 0, flags: 0) { s in s.u32(1); s.append(opus) })
            b.append(fullBox("stts", version: 0, flags: 0) { s in s.u32(0) })
            b.append(fullBox("stsc", version: 0, flags: 0) { s in s.u32(0) })
            b.append(fullBox("stsz", version: 0, flags: 0) { s in s.u32(0); s.u32(0) })
            b.append(fullBox("stco", version: 0, flags: 0) { s in s.u32(0) })
        }
        let minf = box("minf") { b in b.append(smhd); b.append(dinf); b.append(stbl) }
        let mdia = box("mdia") { b in b.append(mdhd); b.append(hdlr); b.append(minf) }
        let trak = box("trak") { b in b.append(tkhd); b.append(mdia) }
        let mvex = box("mvex") { b in
            b.append(fullBox("trex", version: 0, flags: 0) { t in t.u32(1); t.u32(1); t.u32(960); t.u32(0); t.u32(0) })
        }
        let moov = box("moov") { b in b.append(mvhd); b.append(trak); b.append(mvex) }
        return ftyp + moov
    }

    /// One media segment: `packets` (20 ms each) starting at `baseDecodeTime` (48 kHz ticks
    /// since the section start, pre-skip included).
    public static func mediaSegment(sequence: UInt32, baseDecodeTime: Int64, packets: [[UInt8]]) throws -> [UInt8] {
        func moof(dataOffset: UInt32) -> [UInt8] {
            box("moof") { m in
                m.append(fullBox("mfhd", version: 0, flags: 0) { b in b.u32(sequence) })
                m.append(box("traf") { t in
                    // default-base-is-moof | default-sample-duration-present
                    t.append(fullBox("tfhd", version: 0, flags: 0x020008) { b in b.u32(1); b.u32(960) })
                    t.append(fullBox("tfdt", version: 1, flags: 0) { b in b.u64(UInt64(baseDecodeTime)) })
                    // data-offset-present | sample-size-present
                    t.append(fullBox("trun", version: 0, flags: 0x000201) { b in
                        b.u32(UInt32(packets.count)); b.u32(dataOffset)
                        for p in packets { b.u32(UInt32(p.count)) }
                    })
                })
            }
        }
        let size = moof(dataOffset: 0).count
        var out = moof(dataOffset: UInt32(size + 8))
        let payload = packets.reduce(0) { $0 + $1.count }
        var mdat = Box()
        mdat.u32(UInt32(payload + 8))
        mdat.fourcc("mdat")
        out += mdat.bytes
        for p in packets { out += p }
        return out
    }
}
