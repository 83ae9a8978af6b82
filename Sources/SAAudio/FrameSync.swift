/// Frame headers of the two input formats, used to find frame sync anywhere in a byte stream
/// (an Icecast burst does not start on a frame boundary) and to tell MP3 from AAC.
public enum InputFormat: String, Sendable {
    case mp3, aac
}

public struct ADTSHeader: Equatable {
    public let frameLength: Int
    public let headerLength: Int
    public let sampleRateIndex: Int
    public let channelConfig: Int
    public let profile: Int

    static let sampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
    public var sampleRate: Int { ADTSHeader.sampleRates[sampleRateIndex] }

    /// Parses 7 bytes at `p`; nil when they are not a plausible ADTS header.
    public static func parse(_ p: UnsafeRawBufferPointer, at i: Int) -> ADTSHeader? {
        guard i + 7 <= p.count else { return nil }
        let b0 = p[i], b1 = p[i + 1], b2 = p[i + 2], b3 = p[i + 3], b4 = p[i + 4], b5 = p[i + 5]
        guard b0 == 0xFF, b1 & 0xF6 == 0xF0 else { return nil }  // sync 0xFFF, layer 00
        let protectionAbsent = b1 & 0x01 == 1
        let profile = Int(b2 >> 6)
        let sfi = Int((b2 >> 2) & 0x0F)
        guard sfi < 13, profile != 3 else { return nil }
        let chan = Int((b2 & 0x01) << 2 | (b3 >> 6))
        let length = Int(b3 & 0x03) << 11 | Int(b4) << 3 | Int(b5 >> 5)
        let headerLength = protectionAbsent ? 7 : 9
        guard length > headerLength, length < 8192 else { return nil }
        return ADTSHeader(frameLength: length, headerLength: headerLength, sampleRateIndex: sfi, channelConfig: chan, profile: profile)
    }
}

public struct MP3Header: Equatable {
    public let frameLength: Int
    public let sampleRate: Int
    public let channels: Int

    static let bitratesV1L3 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0]
    static let bitratesV2L3 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0]
    static let bitratesV1L2 = [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0]

    /// Parses 4 bytes at `p`; accepts MPEG 1/2/2.5 layer II and III (what radio streams send).
    public static func parse(_ p: UnsafeRawBufferPointer, at i: Int) -> MP3Header? {
        guard i + 4 <= p.count else { return nil }
        let b1 = p[i + 1], b2 = p[i + 2], b3 = p[i + 3]
        guard p[i] == 0xFF, b1 & 0xE0 == 0xE0 else { return nil }
        let version = Int((b1 >> 3) & 0x03)  // 0 = 2.5, 2 = 2, 3 = 1
        let layer = Int((b1 >> 1) & 0x03)  // 1 = III, 2 = II
        guard version != 1, layer == 1 || layer == 2 else { return nil }
        let bri = Int(b2 >> 4), sri = Int((b2 >> 2) & 0x03)
        guard bri != 0, bri != 15, sri != 3 else { return nil }
        let padding = Int((b2 >> 1) & 0x01)
        let baseRates = [44100, 48000, 32000]
        let sampleRate = baseRates[sri] / (version == 3 ? 1 : version == 2 ? 2 : 4)
        let kbps: Int
        let length: Int
        if layer == 2 {
            guard version == 3 else { return nil }
            kbps = bitratesV1L2[bri]
            length = 144_000 * kbps / sampleRate + padding
        } else if version == 3 {
            kbps = bitratesV1L3[bri]
            length = 144_000 * kbps / sampleRate + padding
        } else {
            kbps = bitratesV2L3[bri]
            length = 72_000 * kbps / sampleRate + padding
        }
        guard length > 4 else { return nil }
        let channels = (b3 >> 6) == 3 ? 1 : 2
        return MP3Header(frameLength: length, sampleRate: sampleRate, channels: channels)
    }
}

public enum FormatSniffer {
    /// Size of an ID3v2 tag at the start of `p`, or 0.
    public static func id3v2Length(_ p: UnsafeRawBufferPointer) -> Int {
        guard p.count >= 10, p[0] == 0x49, p[1] == 0x44, p[2] == 0x33 else { return 0 }  // "ID3"
        let size = Int(p[6] & 0x7F) << 21 | Int(p[7] & 0x7F) << 14 | Int(p[8] & 0x7F) << 7 | Int(p[9] & 0x7F)
        let footer = (p[5] & 0x10) != 0 ? 10 : 0
        return 10 + size + footer
    }

    /// Finds the format from the bytes: three consecutive valid frames of one kind, anywhere in
    /// the buffer (after an ID3v2 tag). Nil when the buffer does not (yet) show either.
    public static func detect(_ bytes: [UInt8]) -> InputFormat? {
        bytes.withUnsafeBytes { p -> InputFormat? in
            let start = id3v2Length(p)
            guard start < p.count else { return nil }
            var i = start
            while i + 9 < p.count {
                if p[i] == 0xFF {
                    if chain(p, from: i, parse: { ADTSHeader.parse($0, at: $1)?.frameLength }) { return .aac }
                    if chain(p, from: i, parse: { MP3Header.parse($0, at: $1)?.frameLength }) { return .mp3 }
                }
                i += 1
            }
            return nil
        }
    }

    private static func chain(_ p: UnsafeRawBufferPointer, from: Int, parse: (UnsafeRawBufferPointer, Int) -> Int?) -> Bool {
        var pos = from
        for _ in 0..<3 {
            guard let len = parse(p, pos) else { return false }
            pos += len
        }
        return true
    }

    /// Format named by a Content-Type (parameters ignored), if it names one we record.
    public static func format(contentType: String?) -> InputFormat? {
        guard let ct = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() else { return nil }
        switch ct {
        case "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg", "audio/x-mp3", "audio/mpg": return .mp3
        case "audio/aac", "audio/aacp", "audio/x-aac", "audio/aac-adts", "audio/x-hx-aac-adts": return .aac
        default: return nil
        }
    }
}

/// Splits a byte stream into whole ADTS frames, resynchronising after garbage. A candidate
/// header is accepted only when the next frame's header follows where its length says.
public struct ADTSFramer {
    private var buffer: [UInt8] = []
    private var synced = false
    public private(set) var skippedBytes = 0

    public init() {}

    public mutating func push(_ bytes: UnsafeRawBufferPointer, frame: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        buffer.append(contentsOf: bytes)
        var pos = 0
        try buffer.withUnsafeBytes { p in
            while pos + 7 <= p.count {
                guard let h = ADTSHeader.parse(p, at: pos) else {
                    synced = false
                    pos += 1
                    skippedBytes += 1
                    continue
                }
                let end = pos + h.frameLength
                if !synced {
                    // Confirm with the next header before trusting this one.
                    guard end + 7 <= p.count else { break }
                    guard ADTSHeader.parse(p, at: end)?.sampleRateIndex == h.sampleRateIndex else {
                        pos += 1
                        skippedBytes += 1
                        continue
                    }
                    synced = true
                }
                guard end <= p.count else { break }
                try frame(UnsafeRawBufferPointer(rebasing: p[pos..<end]))
                pos = end
            }
        }
        if pos > 0 { buffer.removeFirst(pos) }
    }

    /// At end of input: a last frame that is complete is still delivered by `push`; bytes left
    /// here are an incomplete tail.
    public var pendingBytes: Int { buffer.count }
}
