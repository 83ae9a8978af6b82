import Foundation

/// Separates ICY metadata blocks from audio: after every `metaint` audio bytes comes one length
/// byte (×16) and that many bytes of `StreamTitle='…';StreamUrl='…';`.
public struct ICYDemuxer {
    public let metaint: Int
    private var audioLeft: Int
    private var metaLeft = -1  // -1: expecting audio; 0…: bytes of metadata still to read
    private var meta: [UInt8] = []

    public init(metaint: Int) {
        self.metaint = metaint
        audioLeft = metaint
    }

    public mutating func push(_ bytes: UnsafeRawBufferPointer, audio: (UnsafeRawBufferPointer) throws -> Void,
                              metadata: ([UInt8]) throws -> Void) rethrows {
        var i = 0
        while i < bytes.count {
            if metaLeft < 0 {
                let n = min(audioLeft, bytes.count - i)
                if n > 0 { try audio(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)])) }
                i += n
                audioLeft -= n
                if audioLeft == 0 { metaLeft = -2 }  // next byte is the length
                if metaLeft == -1 { continue }
            }
            if metaLeft == -2 {
                guard i < bytes.count else { break }
                metaLeft = Int(bytes[i]) * 16
                i += 1
                meta.removeAll(keepingCapacity: true)
                if metaLeft == 0 {
                    metaLeft = -1
                    audioLeft = metaint
                }
                continue
            }
            if metaLeft > 0 {
                let n = min(metaLeft, bytes.count - i)
                meta.append(contentsOf: bytes[i..<(i + n)])
                i += n
                metaLeft -= n
                if metaLeft == 0 {
                    try metadata(meta)
                    metaLeft = -1
                    audioLeft = metaint
                }
            }
        }
    }

    /// The StreamTitle of a metadata block: UTF-8 when valid, else Latin-1 (what older encoders send).
    public static func streamTitle(_ block: [UInt8]) -> String? {
        var bytes = block
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        let key = Array("StreamTitle='".utf8)
        guard let start = find(key, in: bytes) else { return nil }
        let valueStart = start + key.count
        // The value ends at the first "';" (a title containing that pair is cut there, as players do).
        var end = bytes.count
        var j = valueStart
        while j + 1 < bytes.count {
            if bytes[j] == 0x27 && bytes[j + 1] == 0x3B {
                end = j
                break
            }
            j += 1
        }
        if end == bytes.count, bytes.last == 0x27 { end -= 1 }
        guard end >= valueStart else { return nil }
        let value = Array(bytes[valueStart..<end])
        if let s = String(validatingUTF8: value.map { CChar(bitPattern: $0) } + [0]) { return s }
        return String(value.map { Character(Unicode.Scalar($0)) })
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard needle.count <= hay.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if Array(hay[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }
}

/// `.pls` and `.m3u` playlists: the stream URLs they list, in order.
public enum Playlist {
    public static func isPlaylist(url: String, contentType: String?) -> Bool {
        let ct = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        if ["audio/x-scpls", "audio/scpls", "audio/x-mpegurl", "audio/mpegurl", "application/pls+xml"].contains(ct) { return true }
        let path = URLComponents(string: url)?.path.lowercased() ?? url.lowercased()
        return path.hasSuffix(".pls") || path.hasSuffix(".m3u")
    }

    public static func entries(_ text: String, base: String) -> [String] {
        var urls: [String] = []
        for raw in text.components(separatedBy: .newlines) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("[") { continue }
            var candidate = line
            if let eq = line.firstIndex(of: "=") {
                let key = line[..<eq].lowercased()
                guard key.hasPrefix("file") else { continue }
                candidate = String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            }
            if let abs = URL(string: candidate, relativeTo: URL(string: base))?.absoluteString,
               abs.hasPrefix("http://") || abs.hasPrefix("https://") {
                urls.append(abs)
            }
        }
        return urls
    }
}
